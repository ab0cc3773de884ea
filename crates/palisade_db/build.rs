//! Rebuild when a migration or policy file is added or changed: both are embedded in the binary.
fn main() {
    println!("cargo:rerun-if-changed=../../sql");
    println!("cargo:rerun-if-changed=../../policies");
}
