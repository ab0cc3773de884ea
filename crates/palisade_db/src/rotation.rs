//! Rotating the app's database credential without a failed request.
//!
//! PostgreSQL has no dual passwords: changing the password of the role the servers log in as
//! makes every connection they open afterwards fail until they are reconfigured. So the app has
//! two login roles, `palisade_app_a` and `palisade_app_b` ([`crate::schema::APP_LOGIN_ROLES`]),
//! members of the group `palisade_app` that holds every grant; exactly one is active.
//! [`rotate_app_login`], as a superuser:
//! 1. gives the idle role a new random password (sent as a SCRAM verifier, so no log line holds
//!    it) and LOGIN, and checks that it logs in and that row-level security binds it
//!    ([`crate::schema::check_app_role_on`], the server's startup check: a superuser, BYPASSRLS
//!    or a membership given to the idle role since it was last used would otherwise reach every
//!    server without a restart); if not, disables it again and publishes nothing;
//! 2. publishes the new URL through the caller (`publish`: the file the servers read, or the
//!    embedded cluster's `secrets.json`); servers re-read it for each new connection and at least
//!    every second, and close their connections of the old role as they come back to the pool
//!    ([`crate::pool`]);
//! 3. waits until `pg_stat_activity` shows no session of the old role (in any database of the
//!    cluster: a role is cluster-wide);
//! 4. disables the old role (NOLOGIN, no password). If its sessions do not drain in time, it is
//!    left enabled and the error says what to run once they have.

use std::time::{Duration, Instant};

use palisade_domain::Secret;

use crate::DbError;
use crate::schema::{
    APP_LOGIN_ROLES, SchemaError, check_app_role_on, connect, connect_to, disable_login,
    other_app_login_role, set_password,
};

/// How often the drain is checked.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The role the servers logged in as, now disabled.
    pub old_role: &'static str,
    /// The role they log in as now.
    pub new_role: &'static str,
}

/// The credential a rotation publishes.
pub struct NewCredential {
    /// The login role it logs in as.
    pub role: &'static str,
    /// Its new password.
    pub password: Secret,
    /// The servers' URL with that role and password (host, port, database, options kept).
    pub url: Secret,
}

/// A new random password: 32 bytes, hex (URL-safe, no quoting needed anywhere).
pub fn random_password() -> Result<Secret, DbError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| DbError::Unavailable(format!("no randomness for a password: {e}")))?;
    Ok(Secret::new(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ))
}

/// `url` with its user and password replaced (host, port, database and options kept).
pub fn url_with_credential(url: &str, user: &str, password: &Secret) -> Result<Secret, DbError> {
    let mut parsed = url::Url::parse(url)
        .map_err(|_| DbError::Unavailable("the app database URL is not a valid URL".into()))?;
    let bad = |_| DbError::Unavailable("the app database URL cannot carry a user".into());
    parsed.set_username(user).map_err(bad)?;
    parsed.set_password(Some(password.expose())).map_err(bad)?;
    Ok(Secret::new(parsed.to_string()))
}

/// The user a PostgreSQL URL names.
pub fn url_user(url: &Secret) -> Result<String, DbError> {
    let config =
        crate::DbConfig::parse(url.expose()).map_err(|e| e.for_url("the app database URL"))?;
    config
        .pg()
        .get_user()
        .map(str::to_owned)
        .ok_or_else(|| DbError::Unavailable("the app database URL names no user".into()))
}

/// The database a PostgreSQL URL names (its user's name when it names none, as libpq does).
pub fn url_database(url: &Secret) -> Result<String, DbError> {
    let config =
        crate::DbConfig::parse(url.expose()).map_err(|e| e.for_url("the app database URL"))?;
    match config.pg().get_dbname() {
        Some(db) => Ok(db.to_owned()),
        None => url_user(url),
    }
}

/// Rotates the app's credential in `database` (steps in the module doc). `current_url` is the
/// URL the servers use now (its user must be one of [`APP_LOGIN_ROLES`]); `publish` receives
/// the new URL (same server, database and options; the other login role and a new password)
/// and makes the servers use it, returning only once it is in place. `drain_timeout` bounds the
/// wait for the old role's sessions to end.
pub async fn rotate_app_login(
    superuser_url: &str,
    database: &str,
    current_url: &Secret,
    publish: impl FnOnce(&NewCredential) -> Result<(), String>,
    drain_timeout: Duration,
) -> Result<Rotated, SchemaError> {
    let current = url_user(current_url)?;
    let Some(old_role) = APP_LOGIN_ROLES.iter().copied().find(|r| *r == current) else {
        return Err(SchemaError::Refused(format!(
            "the app's database URL logs in as {current}, not as one of {APP_LOGIN_ROLES:?}: \
             only those can be rotated (docs/dba.md, \"Rotating passwords\")"
        )));
    };
    let new_role = other_app_login_role(old_role).unwrap_or(APP_LOGIN_ROLES[0]);
    let su = connect(superuser_url).await?;
    let password = random_password()?;
    set_password(&su, new_role, password.expose(), true).await?;
    let new_url = url_with_credential(current_url.expose(), new_role, &password)?;
    // Before any server is pointed at it: the new credential works from where they connect,
    // and its role is one the servers may use (the servers check it again before adopting it).
    let checked = match connect(new_url.expose()).await {
        Ok(client) => check_app_role_on(&client).await.map_err(|e| e.to_string()),
        Err(e) => Err(format!("it does not log in ({e})")),
    };
    if let Err(why) = checked {
        // Nobody knows its password; as before the rotation, it cannot log in.
        let disabled = disable_login(&su, new_role).await;
        return Err(SchemaError::Refused(format!(
            "the new credential of {new_role} was not published: {why}. The servers still use \
             {old_role}, which is unchanged{}",
            match disabled {
                Ok(()) => format!("; {new_role} was disabled again (NOLOGIN)"),
                Err(e) => format!("; disabling {new_role} again failed ({e})"),
            }
        )));
    }
    let credential = NewCredential {
        role: new_role,
        password,
        url: new_url,
    };
    publish(&credential).map_err(|why| {
        SchemaError::Refused(format!(
            "could not publish the new credential: {why}; the servers still use {old_role}, \
             which is unchanged ({new_role} can log in too until the next rotation)"
        ))
    })?;
    tracing::info!(
        db.old_role = old_role,
        db.new_role = new_role,
        "published the new app credential; waiting for the old role's sessions to end"
    );
    let probe = connect_to(superuser_url, database).await?;
    let deadline = Instant::now() + drain_timeout;
    loop {
        let sessions: i64 = probe
            .query_one(
                // Every database of the cluster: roles are cluster-wide, so disabling the
                // role would also end the logins of another database's servers that use it.
                "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE usename = $1",
                &[&old_role],
            )
            .await
            .map_err(DbError::from)?
            .try_get(0)
            .map_err(DbError::from)?;
        if sessions == 0 {
            break;
        }
        if Instant::now() >= deadline {
            return Err(SchemaError::Refused(format!(
                "{sessions} session(s) of {old_role} are still open after {}s (a server that \
                 did not pick up the new credential? see pg_stat_activity); the servers' new \
                 connections use {new_role}. {old_role} was left able to log in: once its \
                 sessions are gone, run as a superuser: ALTER ROLE {old_role} NOLOGIN PASSWORD NULL",
                drain_timeout.as_secs()
            )));
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    disable_login(&su, old_role).await?;
    tracing::info!(
        db.old_role = old_role,
        db.new_role = new_role,
        "rotated the app credential: the old role can no longer log in"
    );
    Ok(Rotated { old_role, new_role })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gets_the_new_credential_and_keeps_the_rest() {
        let new = url_with_credential(
            "postgresql://palisade_app_a:old%40pw@db.internal:6432/palisade?connect_timeout=5",
            "palisade_app_b",
            &Secret::new("0a1b"),
        )
        .unwrap();
        assert_eq!(
            new.expose(),
            "postgresql://palisade_app_b:0a1b@db.internal:6432/palisade?connect_timeout=5"
        );
        assert_eq!(url_user(&new).unwrap(), "palisade_app_b");
        let password = random_password().unwrap();
        assert_eq!(password.expose().len(), 64);
        assert_ne!(password.expose(), random_password().unwrap().expose());
    }
}
