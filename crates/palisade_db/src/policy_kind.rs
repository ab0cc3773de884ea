//! Who applies a file of `policies/`, decided by its name alone. Shared by `build.rs` (which
//! embeds each file in the list of its kind) and [`crate::schema`] (which applies the lists), so
//! a new file is picked up by its number, without editing Rust.
//!
//! | name                      | kind                                  | applied by, when |
//! |---------------------------|---------------------------------------|------------------|
//! | `000_roles.sql`           | [`PolicyFileKind::Roles`]             | a superuser, cluster-wide, first (bootstrap, install-definers) |
//! | `00N_*.sql` (N > 0)       | [`PolicyFileKind::SuperuserDatabase`] | a superuser inside the database, before migrations (the DDL guard) |
//! | `02N_*.sql`               | [`PolicyFileKind::Definer`]           | a superuser inside the database, after migrations, as `palisade_resolver` |
//! | any other `*.sql`         | [`PolicyFileKind::Owner`]             | `palisade_owner`, after migrations (`migrate`) |

/// Who applies a policy file, and when (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyFileKind {
    /// `000_roles.sql`: the cluster's roles.
    Roles,
    /// `00N_*.sql`: superuser objects inside the database (event triggers).
    SuperuserDatabase,
    /// `02N_*.sql`: SECURITY DEFINER functions, created as `palisade_resolver` by a superuser,
    /// because no login role may be a member of `palisade_resolver`.
    Definer,
    /// Everything else: policies, grants and plain functions, applied by `palisade_owner`.
    Owner,
}

/// The roles file's name.
pub const ROLES_FILE: &str = "000_roles.sql";

/// The kind of the policy file called `name` (a file name, not a path).
pub fn classify(name: &str) -> PolicyFileKind {
    let digits = name.as_bytes();
    let numbered =
        |prefix: &str| name.starts_with(prefix) && digits.get(2).is_some_and(u8::is_ascii_digit);
    if name == ROLES_FILE {
        PolicyFileKind::Roles
    } else if numbered("00") {
        PolicyFileKind::SuperuserDatabase
    } else if numbered("02") {
        PolicyFileKind::Definer
    } else {
        PolicyFileKind::Owner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_classified_by_their_number() {
        for (name, kind) in [
            ("000_roles.sql", PolicyFileKind::Roles),
            ("001_ddl_guard.sql", PolicyFileKind::SuperuserDatabase),
            ("009_anything.sql", PolicyFileKind::SuperuserDatabase),
            ("010_context_functions.sql", PolicyFileKind::Owner),
            ("020_resolvers.sql", PolicyFileKind::Definer),
            ("021_webhook_resolvers.sql", PolicyFileKind::Definer),
            // A new definer file is picked up by its number alone.
            ("022_phone_number_inventory.sql", PolicyFileKind::Definer),
            ("023_accounts.sql", PolicyFileKind::Definer),
            ("028_api_key_resolvers.sql", PolicyFileKind::Definer),
            ("029_not_written_yet.sql", PolicyFileKind::Definer),
            ("030_next.sql", PolicyFileKind::Owner),
            ("120_customers.sql", PolicyFileKind::Owner),
            ("202_not_a_definer.sql", PolicyFileKind::Owner),
            ("420_api_keys.sql", PolicyFileKind::Owner),
            ("900_audit.sql", PolicyFileKind::Owner),
        ] {
            assert_eq!(classify(name), kind, "{name}");
        }
    }
}
