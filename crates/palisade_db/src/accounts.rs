//! Accounts: invitations (table `palisade.invitations`, policies/470_invitations.sql), password
//! resets (`palisade.password_resets`, policies/480_password_resets.sql) and password changes.
//!
//! Tokens never reach the database: only their SHA-256, which the app role can write but not
//! read. Everything that finds a row by a token hash, or writes a password, goes through the
//! SECURITY DEFINER functions of policies/023_accounts.sql. "Now" is always the caller's (the
//! application's clock), passed as a parameter.

use palisade_domain::{EmailAddress, InvitationId, OrgId, PersonName, Role, TenantContext, UserId};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{AppPool, DbError, Page, PageRequest, TenantTx};

/// A pending invitation as admins see it (never its token or hash).
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    /// The invitation id.
    pub id: Uuid,
    /// Who is invited.
    pub email: String,
    /// The role they will have.
    pub role: Role,
    /// Who invited them.
    pub invited_by: Uuid,
    /// When.
    pub created_at: OffsetDateTime,
    /// Until when the link works.
    pub expires_at: OffsetDateTime,
}

/// An invitation to store. `token_hash` is the SHA-256 of the link's token.
#[derive(Clone)]
pub struct NewInvitation {
    /// Who is invited.
    pub email: EmailAddress,
    /// Their role once they accept.
    pub role: Role,
    /// SHA-256 of the token the link carries.
    pub token_hash: [u8; 32],
    /// The application's now.
    pub created_at: OffsetDateTime,
    /// When the link stops working.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for NewInvitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewInvitation")
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The per-organization unique key on an invitation's email.
pub const INVITATION_EMAIL_KEY: &str = "invitations_email_key";
/// The global unique key on the login email (see policies/110_users.sql).
pub const USER_EMAIL_KEY: &str = "users_email_key";

macro_rules! invitation_columns {
    () => {
        "id, email, role, invited_by, created_at, expires_at"
    };
}

fn parse_role(role: &str) -> Result<Role, DbError> {
    Role::parse(role).map_err(|_| DbError::Decode(format!("unknown role {role:?}")))
}

fn invitation_from_row(r: &Row) -> Result<Invitation, DbError> {
    Ok(Invitation {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        role: parse_role(r.try_get("role")?)?,
        invited_by: r.try_get("invited_by")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// What [`create_invitation`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Invited {
    /// Stored, replacing the pending invitation of that email if there was one.
    Stored(Invitation),
    /// Nothing: that email has an owner's invitation, which only an owner replaces (as only an
    /// owner revokes one), and the acting user is not an owner.
    OwnersInvitationKept,
}

/// Stores an invitation from the acting user, replacing a pending one for the same email (its
/// link stops working), expired or not. Owners and admins only; only an owner invites an owner
/// or replaces an owner's invitation (RLS).
///
/// The DELETE policy hides an owner's invitation from an admin: the DELETE's statement reads
/// which of the email's invitations it left, and one left is an owner's, which answers
/// [`Invited::OwnersInvitationKept`] before the INSERT could meet it on the email's unique key.
/// An invitation of that email inserted concurrently, which neither sees, still meets it there
/// ([`INVITATION_EMAIL_KEY`]): sent again, the request finds it.
pub async fn create_invitation(tx: &mut TenantTx, new: &NewInvitation) -> Result<Invited, DbError> {
    let inviter = tx
        .context()
        .map(|c| c.user_id.as_uuid())
        .ok_or_else(|| DbError::Decode("an invitation needs a user context".into()))?;
    // The outer SELECT sees the statement's snapshot, without the CTE's deletions: an owner's
    // invitation it finds that the DELETE did not take, for a role other than owner, is one the
    // policy kept from them. (One a concurrent request deleted first is not taken either: an
    // owner replaced an owner's invitation meanwhile, and the 403 is an answer of that moment.)
    let kept = tx
        .query_opt(
            "WITH gone AS (DELETE FROM palisade.invitations WHERE email = $1 RETURNING id) \
             SELECT 1 FROM palisade.invitations \
              WHERE email = $1 AND role = 'owner' AND id NOT IN (SELECT id FROM gone) \
                AND (SELECT palisade_private.current_app_role()) <> 'owner' \
              LIMIT 1",
            &[&new.email.as_str()],
        )
        .await?;
    if kept.is_some() {
        return Ok(Invited::OwnersInvitationKept);
    }
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO palisade.invitations \
                     (id, email, role, token_hash, invited_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                invitation_columns!()
            ),
            &[
                &InvitationId::new().as_uuid(),
                &new.email.as_str(),
                &new.role.as_str(),
                &new.token_hash.as_slice(),
                &inviter,
                &new.created_at,
                &new.expires_at,
            ],
        )
        .await?;
    Ok(Invited::Stored(invitation_from_row(&row)?))
}

/// One page of the organization's pending invitations (expired ones included, until revoked or
/// replaced), newest first. Ends the transaction.
pub async fn list_invitations(
    tx: TenantTx,
    page: PageRequest<Cursor>,
) -> Result<Page<Invitation, Cursor>, DbError> {
    ListQuery::new(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM palisade.invitations WHERE true"
    ))
    .page(&page)
    .fetch(tx, page.limit, invitation_from_row, |i| Cursor {
        created_at: i.created_at,
        id: i.id,
    })
    .await
}

/// The statement of [`get_invitation`] (and, `FOR UPDATE`, of [`find_invitation`]).
const GET_INVITATION_SQL: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM palisade.invitations WHERE id = $1"
);

/// One pending invitation, or `None` when it is not this organization's (or the acting role
/// may not see invitations). Ends the transaction.
pub async fn get_invitation(tx: TenantTx, id: InvitationId) -> Result<Option<Invitation>, DbError> {
    let rows = tx.query_once(GET_INVITATION_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(invitation_from_row).transpose()
}

/// [`get_invitation`] inside a write transaction (for `If-Match`). Nothing to lock: an
/// invitation never changes in place (the app role may not UPDATE it, nor lock it), so the row
/// read is the only version there is until it is deleted.
pub async fn find_invitation(
    tx: &mut TenantTx,
    id: InvitationId,
) -> Result<Option<Invitation>, DbError> {
    let row = tx.query_opt(GET_INVITATION_SQL, &[&id.as_uuid()]).await?;
    row.as_ref().map(invitation_from_row).transpose()
}

/// The role an invitation grants, inside a transaction that goes on; `None` when it is not
/// this organization's.
pub async fn invitation_role(tx: &mut TenantTx, id: InvitationId) -> Result<Option<Role>, DbError> {
    let row = tx
        .query_opt(
            "SELECT role FROM palisade.invitations WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?;
    row.map(|r| parse_role(r.try_get("role")?)).transpose()
}

/// Revokes (deletes) an invitation; `false` when it is not this organization's or the acting
/// role may not (RLS).
pub async fn revoke_invitation(tx: &mut TenantTx, id: InvitationId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.invitations WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}

/// The acting organization's name (for the invitation mail).
pub async fn organization_name(tx: &mut TenantTx) -> Result<String, DbError> {
    let row = tx
        .query_one("SELECT name FROM palisade.organizations", &[])
        .await?;
    Ok(row.try_get("name")?)
}

/// A valid invitation found by its token: where it leads and who sent it.
#[derive(Debug, Clone, Copy)]
pub struct InvitationByToken {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The inviter acting in their organization with their current role: accepting runs as them.
    pub inviter: TenantContext,
}

/// Finds an invitation by the SHA-256 of its token, valid at `now`, before any tenant is known
/// (`palisade_private.invitation_by_token`, one statement).
pub async fn invitation_by_token(
    pool: &AppPool,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<InvitationByToken>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT organization_id, invitation_id, inviter_id, inviter_role \
               FROM palisade_private.invitation_by_token($1, $2)",
        )
        .await?;
    let Some(row) = conn
        .query_opt(&stmt, &[&token_hash.as_slice(), &now])
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(InvitationByToken {
        invitation_id: InvitationId::from_uuid(row.try_get("invitation_id")?),
        inviter: TenantContext {
            org_id: OrgId::from_uuid(row.try_get("organization_id")?),
            user_id: UserId::from_uuid(row.try_get("inviter_id")?),
            role: parse_role(row.try_get("inviter_role")?)?,
        },
    }))
}

/// Why accepting an invitation failed.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// Gone meanwhile (accepted, revoked, expired), or the inviter may no longer grant it.
    #[error("invitation no longer valid")]
    Invalid,
    /// The email already logs in somewhere (it is unique platform-wide).
    #[error("email already registered")]
    EmailTaken,
    /// The invited email is one a new account may not have: an invitation made before
    /// [`EmailAddress::parse`] refused invisible characters.
    #[error("invited email refused")]
    AddressRefused,
    /// Anything else.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Accepts an invitation inside a transaction acting as its inviter: deletes it (single use:
/// of two concurrent accepts, one deletes it and the other finds nothing) and creates the user
/// with the invited email and role. Returns the new member's context. Nothing is committed.
///
/// The transaction's context is the inviter with the role `invitation_by_token` found, a
/// statement earlier. The delete also requires the inviter to have that role still (as of the
/// delete's snapshot): an inviter demoted since (or promoted) finds [`AcceptError::Invalid`], and
/// the caller looks the invitation up again, so it is not accepted with a role its inviter had
/// lost before the transaction began.
pub async fn accept_invitation(
    tx: &mut TenantTx,
    id: InvitationId,
    now: OffsetDateTime,
    name: &PersonName,
    password_hash: &str,
) -> Result<TenantContext, AcceptError> {
    let Some(row) = tx
        .query_opt(
            "DELETE FROM palisade.invitations AS i WHERE i.id = $1 AND i.expires_at > $2 \
                AND EXISTS (SELECT 1 FROM palisade.users AS u \
                             WHERE u.organization_id = i.organization_id AND u.id = i.invited_by \
                               AND u.role = (SELECT palisade_private.current_app_role())) \
             RETURNING i.email, i.role",
            &[&id.as_uuid(), &now],
        )
        .await?
    else {
        return Err(AcceptError::Invalid);
    };
    let email: String = row.try_get("email").map_err(DbError::from)?;
    if EmailAddress::parse(&email).is_err() {
        return Err(AcceptError::AddressRefused);
    }
    let role = parse_role(row.try_get("role").map_err(DbError::from)?)?;
    let user_id = UserId::new();
    let inserted = tx
        .execute(
            "INSERT INTO palisade.users (id, email, name, role, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
            &[
                &user_id.as_uuid(),
                &email,
                &name.as_str(),
                &role.as_str(),
                &password_hash,
                &now,
            ],
        )
        .await;
    match inserted {
        Err(e) if e.is_unique_violation_of(USER_EMAIL_KEY) => return Err(AcceptError::EmailTaken),
        other => other?,
    };
    Ok(TenantContext {
        org_id: tx.org_id().ok_or_else(|| {
            DbError::Decode("the organization is not known before the first statement".into())
        })?,
        user_id,
        role,
    })
}

/// Opens a password reset for the acting user (the transaction acts as them): stores the new
/// link and withdraws their other pending resets (only the newest link works). `false` when
/// the user (or their organization) is gone: removed since the request looked them up, the
/// removal committed first; nothing is stored then, and the transaction is spent (drop it).
///
/// Two requests for one user at once would each delete what they saw (nothing new) and each
/// insert a link: two working links. So the transaction first takes an advisory lock on the
/// user (`lock::XACT_LOCK`, class `lock::PASSWORD_RESET_CLASS`), held until it ends; the
/// second waits for the first's commit, and its DELETE, a statement of its own after the wait,
/// sees the first's link and withdraws it. A hash collision only makes two users' requests
/// wait for each other (the lock says nothing to either: no rows are read by it).
///
/// The INSERT comes before the DELETE so that the user's row is locked before any link is: its
/// foreign key checks take the organization's row, then the user's (`FOR KEY SHARE`; the
/// constraints' triggers fire in that order, by name), as the removal of the user (`DELETE`
/// of their row, then its cascade to their links) and the organization's deletion (its row,
/// then its users', then their links) do. With the DELETE first, a removal between the two
/// statements held the user's row and waited for the old link's, which this held while it
/// waited for the user's row: a deadlock (40P01), one of the two failed. Now whichever takes
/// the user's row first goes on and the other waits for its commit: a removal committed first
/// leaves this INSERT a foreign key violation (`false`), one that came second deletes the new
/// link with the user.
pub async fn create_password_reset(
    tx: &mut TenantTx,
    token_hash: &[u8; 32],
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<bool, DbError> {
    let user = tx
        .context()
        .map(|c| c.user_id.as_uuid())
        .ok_or_else(|| DbError::Decode("a password reset needs a user context".into()))?;
    tx.execute(
        crate::lock::XACT_LOCK,
        &[&crate::lock::PASSWORD_RESET_CLASS, &user.to_string()],
    )
    .await?;
    let id = Uuid::now_v7();
    let inserted = tx
        .execute(
            "INSERT INTO palisade.password_resets (id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &id,
                &user,
                &token_hash.as_slice(),
                &created_at,
                &expires_at,
            ],
        )
        .await;
    match inserted {
        Err(e)
            if e.is_foreign_key_violation_of(PASSWORD_RESET_USER_KEY)
                || e.is_foreign_key_violation_of(PASSWORD_RESET_ORGANIZATION_KEY) =>
        {
            return Ok(false);
        }
        other => other?,
    };
    tx.execute(
        "DELETE FROM palisade.password_resets WHERE user_id = $1 AND id <> $2",
        &[&user, &id],
    )
    .await?;
    Ok(true)
}

/// The foreign key of a reset link to its user (sql/V0081__create_password_resets.sql).
const PASSWORD_RESET_USER_KEY: &str = "password_resets_user_id_fkey";
/// The foreign key of a reset link to its organization.
const PASSWORD_RESET_ORGANIZATION_KEY: &str = "password_resets_organization_id_fkey";

/// Replaces the acting user's email verification link (the transaction's user, never a
/// parameter; policies/485_email_verifications.sql) and returns the address to mail it to.
/// `None` when they have none: their address is verified already.
pub async fn renew_email_verification(
    tx: &mut TenantTx,
    token_hash: &[u8; 32],
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<Option<String>, DbError> {
    let row = tx
        .query_opt(
            "UPDATE palisade.email_verifications AS v \
                SET token_hash = $1, created_at = $2, expires_at = $3 \
               FROM palisade.users AS u \
              WHERE v.user_id = (SELECT palisade_private.current_user_id()) \
                AND u.organization_id = v.organization_id AND u.id = v.user_id \
             RETURNING u.email",
            &[&token_hash.as_slice(), &created_at, &expires_at],
        )
        .await?;
    row.map(|r| r.try_get("email").map_err(DbError::from))
        .transpose()
}

/// Whether the acting user's email address is verified (they have no pending verification),
/// holding their row until the transaction ends (`palisade_private.hold_verified_self`,
/// policies/023_accounts.sql), for the writes an unverified user may not make, before them. The
/// row held, a password reset or change, signing out everywhere, a role change or a removal
/// cannot commit between this answer and the write; one that committed since the transaction's
/// opening check is refused here: [`DbError::Refused`], a 401 for a token it ended or a user
/// gone, [`crate::tenant_tx::Refusal::RoleLowered`] (409 `role_changed`) for a role now below
/// the one the request was decided for (the least role its opening check asked for; for an API
/// key, its creator's row is read, not the key).
pub async fn hold_verified_self(tx: &mut TenantTx) -> Result<bool, DbError> {
    let version = tx.session_version();
    let least = tx.least_role().map(Role::as_str);
    let row = tx
        .query_one(
            "SELECT palisade_private.hold_verified_self($1, $2)",
            &[&version, &least],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// What a verification link did for the signed-in user who presented it ([`verify_email`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The link was theirs and valid: their address is verified from now on.
    Verified,
    /// It consumed nothing, and their address is verified (by this link before, a concurrent
    /// use of it, a reset, or an invitation), whatever the link was.
    AlreadyVerified,
    /// It consumed nothing and their address is not verified: unknown, expired, replaced, or
    /// another user's.
    InvalidLink,
}

/// Consumes the acting user's email verification link by the SHA-256 of its token (valid at
/// `now`: `palisade_private.verify_email`, which consumes only the transaction's own user's
/// link), then commits. When it consumed nothing, a second statement reads whether the user is
/// verified: a statement of its own, so that it sees what committed while the first waited (a
/// concurrent use of the same link, a reset), which the first statement's snapshot did not.
pub async fn verify_email(
    mut tx: TenantTx,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Verification, DbError> {
    let consumed: i64 = tx
        .query_one(
            "SELECT count(*) FROM palisade_private.verify_email($1, $2)",
            &[&token_hash.as_slice(), &now],
        )
        .await?
        .try_get(0)?;
    let answer = if consumed > 0 {
        Verification::Verified
    } else {
        let verified: bool = tx
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM palisade.email_verifications \
                                     WHERE user_id = (SELECT palisade_private.current_user_id()))",
                &[],
            )
            .await?
            .try_get(0)?;
        if verified {
            Verification::AlreadyVerified
        } else {
            Verification::InvalidLink
        }
    };
    tx.commit().await?;
    Ok(answer)
}

/// Consumes a reset link by the SHA-256 of its token (valid at `now`) and sets the password
/// (`palisade_private.reset_password`, one statement). Returns whose password it was, or
/// `None` when the link is unknown, expired or used.
pub async fn reset_password(
    pool: &AppPool,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
    password_hash: &str,
) -> Result<Option<(OrgId, UserId)>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT organization_id, user_id FROM palisade_private.reset_password($1, $2, $3)",
        )
        .await?;
    let row = conn
        .query_opt(&stmt, &[&token_hash.as_slice(), &now, &password_hash])
        .await?;
    row.map(|r| -> Result<_, DbError> {
        Ok((
            OrgId::from_uuid(r.try_get("organization_id")?),
            UserId::from_uuid(r.try_get("user_id")?),
        ))
    })
    .transpose()
}

/// Replaces the acting user's password (the transaction's user, never a parameter) if their
/// stored hash is still `current_hash`, and drops their pending reset links
/// (`palisade_private.change_password`). Returns the new credential version, or `None` when
/// nothing changed (the user is gone or the password changed meanwhile).
pub async fn change_password(
    tx: &mut TenantTx,
    current_hash: &str,
    new_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<i32>, DbError> {
    let row = tx
        .query_opt(
            "SELECT credential_version FROM palisade_private.change_password($1, $2, $3)",
            &[&current_hash, &new_hash, &now],
        )
        .await?;
    row.map(|r| r.try_get("credential_version").map_err(DbError::from))
        .transpose()
}

/// Ends every bearer token of the acting user (the transaction's user, never a parameter) by
/// bumping their credential version, if it is still `version`, the one the caller's token
/// carries (`palisade_private.end_sessions`). Returns the new version, or `None` when no user is
/// set, the user is gone or the version moved meanwhile.
pub async fn end_sessions(
    tx: &mut TenantTx,
    version: i32,
    now: OffsetDateTime,
) -> Result<Option<i32>, DbError> {
    let row = tx
        .query_opt(
            "SELECT credential_version FROM palisade_private.end_sessions($1, $2)",
            &[&version, &now],
        )
        .await?;
    row.map(|r| r.try_get("credential_version").map_err(DbError::from))
        .transpose()
}
