//! `palisade analyst`: the supported path to a read-only role that sees one organization's rows
//! (docs/dba.md, "An analyst for one organization"), run through [`palisade_db::analysts`] as a
//! superuser (`PALISADE_SUPERUSER_URL`, or the embedded cluster's).
//!
//! ```text
//! palisade analyst grant ROLE --organization UUID
//! palisade analyst revoke ROLE
//! ```

use palisade_db::analysts::{self, AnalystError, AnalystRole};
use palisade_db::schema;
use palisade_domain::OrgId;

use crate::configuration::{AnalystSettings, DatabaseMode};
use crate::embedded::{self, on_embedded_cluster};

/// One `palisade analyst` subcommand, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalystCommand {
    /// Make the role an analyst of the organization (creating it NOLOGIN if needed).
    Grant {
        /// The role.
        role: AnalystRole,
        /// The one organization it may read.
        organization: OrgId,
    },
    /// End the role's analyst access (the role itself stays).
    Revoke(AnalystRole),
}

/// A role name as the command line gives it.
pub fn parse_role(name: &str) -> Result<AnalystRole, String> {
    AnalystRole::parse(name)
}

/// An organization id as the command line gives it.
pub fn parse_organization(id: &str) -> Result<OrgId, String> {
    OrgId::parse(id).map_err(|_| format!("{id:?} is not an organization id (a UUID)"))
}

/// Runs `command` on the Palisade database of `settings` as its superuser; returns what to
/// print.
pub fn execute(settings: &AnalystSettings, command: &AnalystCommand) -> Result<String, String> {
    let on = |superuser_url: &str, database: &str| {
        actix_web::rt::System::new().block_on(run(superuser_url, database, command))
    };
    match &settings.database {
        DatabaseMode::External(su) => on(su.url.expose(), &su.database_name),
        DatabaseMode::Embedded(e) => {
            on_embedded_cluster(e, |urls| on(urls.superuser.expose(), embedded::DATABASE))
        }
    }
}

/// Runs `command` on `database` through `superuser_url`; returns what to print.
pub async fn run(
    superuser_url: &str,
    database: &str,
    command: &AnalystCommand,
) -> Result<String, String> {
    let mut su = schema::connect_to(superuser_url, database)
        .await
        .map_err(|e| format!("cannot connect as the superuser to database {database}: {e}"))?;
    let superuser: bool = su
        .query_one(
            "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| format!("reading the current role: {e}"))?
        .get(0);
    if !superuser {
        return Err(
            "PALISADE_SUPERUSER_URL's role is not a superuser (creating a role and recording it need one)"
                .into(),
        );
    }
    let failed = |e: AnalystError| e.to_string();
    match command {
        AnalystCommand::Grant { role, organization } => {
            let g = analysts::grant(&mut su, role, organization.as_uuid())
                .await
                .map_err(failed)?;
            let role = role.as_str();
            let how = match (g.created, g.already) {
                (_, true) => "was already its analyst; grants and policies re-applied",
                (true, _) => "created (NOLOGIN)",
                (false, _) => "adopted",
            };
            Ok(format!(
                "{role}: analyst of organization {organization} ({how}).\n\
                 It may SELECT the readable columns of {} tenant tables, rows of that organization \
                 only, and nothing else. To use it: ALTER ROLE {role} LOGIN PASSWORD '...', or \
                 GRANT {role} TO <a login role>. `palisade migrate` keeps it up to date; \
                 `palisade analyst revoke {role}` ends it.\n",
                g.tables
            ))
        }
        AnalystCommand::Revoke(role) => {
            analysts::revoke(&mut su, role).await.map_err(failed)?;
            let role = role.as_str();
            Ok(format!(
                "{role}: no longer an analyst (record, policies and grants removed). The role \
                 itself is kept: DROP ROLE {role} when nothing else uses it.\n"
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn organization_ids_are_uuids() {
        assert!(parse_organization("0b6f6d1e-8f0a-4b5e-9a57-0d9b5a1c2e3f").is_ok());
        assert!(
            parse_organization("acme")
                .unwrap_err()
                .contains("not an organization id")
        );
    }
}
