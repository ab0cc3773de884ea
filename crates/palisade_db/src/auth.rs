//! Signup, login and "who am I": the queries behind `/v1/auth/*` and `/v1/me`.
//!
//! Signup runs entirely under RLS: it opens a tenant transaction for a freshly generated
//! organization id and inserts the organization and its owner, which the policies allow
//! precisely because the context names them. Login is the one read before a tenant is known,
//! and goes through the narrow resolver function `palisade_private.login_lookup`.

use palisade_domain::{
    EmailAddress, OrgId, OrganizationName, PersonName, Role, TenantContext, UserId,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{AppPool, DbError, TenantTx};

/// What signup stores. The password is already hashed.
#[derive(Debug, Clone)]
pub struct NewSignup {
    /// The new organization's name.
    pub organization_name: OrganizationName,
    /// The owner's display name.
    pub name: PersonName,
    /// The owner's login email.
    pub email: EmailAddress,
    /// The owner's password, as a PHC string (argon2id).
    pub password_hash: String,
    /// The SHA-256 of the token of the link that verifies the owner's email address.
    pub verification_hash: [u8; 32],
    /// When the signup happens (the link's creation).
    pub now: OffsetDateTime,
    /// Until when the link works.
    pub verification_expires_at: OffsetDateTime,
}

/// Why signup failed.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// The login email is already registered (in any organization: it is a global key).
    #[error("email already registered")]
    EmailTaken,
    /// Anything else.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Creates an organization and its owner; returns the owner's context.
pub async fn signup(pool: &AppPool, input: &NewSignup) -> Result<TenantContext, SignupError> {
    let ctx = TenantContext {
        org_id: OrgId::new(),
        user_id: UserId::new(),
        role: Role::Owner,
    };
    let mut tx = TenantTx::begin(pool, &ctx).await?;
    tx.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, $2)",
        &[&ctx.org_id.as_uuid(), &input.organization_name.as_str()],
    )
    .await?;
    let inserted = tx
        .execute(
            "INSERT INTO palisade.users (id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, $5)",
            &[
                &ctx.user_id.as_uuid(),
                &input.email.as_str(),
                &input.name.as_str(),
                &Role::Owner.as_str(),
                &input.password_hash,
            ],
        )
        .await;
    match inserted {
        Err(e) if e.is_unique_violation_of("users_email_key") => {
            return Err(SignupError::EmailTaken);
        }
        other => other?,
    };
    // The owner's address is unverified until its link is opened
    // (policies/485_email_verifications.sql).
    tx.execute(
        "INSERT INTO palisade.email_verifications (id, user_id, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &Uuid::now_v7(),
            &ctx.user_id.as_uuid(),
            &input.verification_hash.as_slice(),
            &input.now,
            &input.verification_expires_at,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(ctx)
}

/// A login candidate: who would be logged in, and the hash to verify first.
pub struct LoginRecord {
    /// The context a token for this user carries.
    pub ctx: TenantContext,
    /// The stored PHC hash.
    pub password_hash: String,
    /// The credential version a token for this user must carry.
    pub credential_version: i32,
}

impl std::fmt::Debug for LoginRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRecord")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

/// Finds the user who logs in with `email`, before any tenant is known, through the resolver
/// function (the app role cannot read password hashes itself).
pub async fn login_lookup(
    pool: &AppPool,
    email: &EmailAddress,
) -> Result<Option<LoginRecord>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT organization_id, user_id, role, password_hash, credential_version \
               FROM palisade_private.login_lookup($1)",
        )
        .await?;
    let Some(row) = conn.query_opt(&stmt, &[&email.as_str()]).await? else {
        return Ok(None);
    };
    let role: String = row.try_get("role")?;
    Ok(Some(LoginRecord {
        ctx: TenantContext {
            org_id: OrgId::from_uuid(row.try_get("organization_id")?),
            user_id: UserId::from_uuid(row.try_get("user_id")?),
            role: Role::parse(&role)
                .map_err(|_| DbError::Decode(format!("unknown role {role:?}")))?,
        },
        password_hash: row.try_get("password_hash")?,
        credential_version: row.try_get("credential_version")?,
    }))
}

/// A user and their organization, as `/v1/me` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Me {
    /// The user's id.
    pub user_id: Uuid,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in the organization.
    pub role: Role,
    /// The organization's id.
    pub organization_id: Uuid,
    /// The organization's name.
    pub organization_name: String,
    /// When the user was created.
    pub created_at: OffsetDateTime,
    /// Whether their email address is verified (no pending verification).
    pub email_verified: bool,
}

/// What [`me`] runs: the acting user (from the transaction's context) and their organization.
pub const ME: &str = "SELECT u.id, u.email, u.name, u.role, u.organization_id, \
                             o.name AS organization_name, u.created_at, \
                             NOT EXISTS (SELECT 1 FROM palisade.email_verifications v \
                                          WHERE v.organization_id = u.organization_id \
                                            AND v.user_id = u.id) AS email_verified \
                        FROM palisade.users u JOIN palisade.organizations o ON o.id = u.organization_id \
                       WHERE u.id = (SELECT palisade_private.current_user_id())";

/// The acting user, if it still exists in the acting organization, and the context the
/// transaction acted in. One round trip (BEGIN, the context or the credential's check, the
/// query and COMMIT pipelined): for a checked credential the user is the one its check found.
pub async fn me(tx: TenantTx) -> Result<(Option<Me>, Option<TenantContext>), DbError> {
    let (rows, ctx) = tx.query_once_in_context(ME, &[]).await?;
    let me = rows.first().map(me_from_row).transpose()?;
    Ok((me, ctx))
}

/// What [`rename_self`] runs: [`ME`]'s row, with the name given (`$1`) in place of the one read
/// and the user renamed (`palisade_private.rename_self`) in its select list, so once for the row
/// found and never without one. The name is the parameter because the row is read from the
/// statement's snapshot, taken before the function's UPDATE; the function stores it unchanged.
pub const RENAME_SELF: &str = "SELECT u.id, u.email, $1::text AS name, u.role, u.organization_id, \
                             o.name AS organization_name, u.created_at, \
                             NOT EXISTS (SELECT 1 FROM palisade.email_verifications v \
                                          WHERE v.organization_id = u.organization_id \
                                            AND v.user_id = u.id) AS email_verified, \
                             palisade_private.rename_self($1, $2) AS renamed \
                        FROM palisade.users u JOIN palisade.organizations o ON o.id = u.organization_id \
                       WHERE u.id = (SELECT palisade_private.current_user_id())";

/// Renames the acting user (the transaction's organization and user, whatever their role:
/// `palisade_private.rename_self`) and answers as [`me`] does, with the new name: one statement,
/// sent with BEGIN, the context or the credential's check, and COMMIT (one round trip). No user
/// when they are gone, whether the statement found no row or the function found none to rename
/// (removed between the two); nothing is changed then.
pub async fn rename_self(
    mut tx: TenantTx,
    name: &PersonName,
    now: OffsetDateTime,
) -> Result<(Option<Me>, Option<TenantContext>), DbError> {
    tx.commit_with_next_statement();
    let rows = tx.query(RENAME_SELF, &[&name.as_str(), &now]).await?;
    let ctx = tx.context().copied();
    // Sends nothing: the statement took the COMMIT with it.
    tx.commit().await?;
    let me = match rows.first() {
        Some(row) if row.try_get::<_, bool>("renamed")? => Some(me_from_row(row)?),
        _ => None,
    };
    Ok((me, ctx))
}

fn me_from_row(r: &Row) -> Result<Me, DbError> {
    let role: String = r.try_get("role")?;
    Ok(Me {
        user_id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).map_err(|_| DbError::Decode(format!("unknown role {role:?}")))?,
        organization_id: r.try_get("organization_id")?,
        organization_name: r.try_get("organization_name")?,
        created_at: r.try_get("created_at")?,
        email_verified: r.try_get("email_verified")?,
    })
}
