# Palisade's convenience recipes. Nothing here is required: the README's commands work without just.

# List the recipes.
default:
    @just --list

# Start the embedded PostgreSQL, apply migrations and policies, and stop (data in ./.palisade).
db:
    cargo run --bin palisade -- migrate

# Serve the API on 127.0.0.1:8080 over the embedded PostgreSQL.
run:
    cargo run --bin palisade

# Run every test (each test process starts its own throwaway PostgreSQL).
test:
    cargo test --workspace

# Formatting, lints and the crates' rustdoc links, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# The supply-chain check, as CI runs it: advisories (local database), licences, bans, sources.
deny:
    bash scripts/cargo_deny.sh

# The DBA audit: violations and drift from sql/ and policies/ (exit 0 healthy, 1 findings, 2 error).
audit *ARGS:
    cargo run --bin palisade -- audit {{ARGS}}

# Benchmark: TenantTx under RLS versus a plain WHERE organization_id = $1, as a ratio.
bench:
    cargo bench -p palisade_db --bench tenant_tx

# HTTP benchmark: the palisade binary under wrk against pgbench of the same SQL, as ratios.
bench-http:
    cargo bench -p palisade_server --bench http

# The opt-in scale (10 M customers) and login-fairness run of the HTTP benchmark (minutes).
bench-http-scale:
    BENCH_SCALE=1 cargo bench -p palisade_server --bench http

# Schemathesis against the built server on a throwaway cluster, as CI runs it (minutes).
fuzz *ARGS:
    SCHEMATHESIS_ARGS='{{ARGS}}' bash scripts/schemathesis.sh

# Everything CI runs.
ci:
    bash .ci/run
