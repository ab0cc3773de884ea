//! `/v1/members`: the people of the organization (the users table). Every member reads the
//! list; owners and admins add, change and remove members; only an owner creates an owner,
//! changes an owner or makes someone an owner (checked here, 403, and by the policies of
//! policies/110_users.sql). Changing and removing members takes a user's session, never an API
//! key (403 `requires_user_session`, see [`crate::auth::UserSession`]). The last owner can be
//! neither demoted nor removed (409 `last_owner`), checked under a lock on the owner rows so that two concurrent changes cannot
//! remove the last two owners together.
//!
//! Nobody adds a member here, and no endpoint takes a password for someone else: people join
//! by invitation and choose their own password (`POST /v1/invitations`, routes/accounts.rs).
//! A removed member's tokens stop working at once (every credential check, `enter_session` or
//! `UserSession`'s lookup, finds the user gone), the API keys and Amazon Connect credentials they
//! created are revoked and the webhooks they enabled are disabled in the same transaction, and
//! their pending invitations and password-reset links go with them (ON DELETE CASCADE). Demoting
//! an owner or admin to member revokes the Connect credentials they created and disables the
//! webhooks they enabled (their API keys stay, capped at the member role).

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::crud;
use palisade_db::members::{self as db, Member, MemberFilter, MemberPatch};
use palisade_db::outbound_webhooks as webhooks;
use palisade_domain::{PersonName, Role, UserId};
use serde::Deserialize;
use uuid::Uuid;

use super::{Fields, nullable, parse_id};
use crate::auth::{Tenant, UserSession};
use crate::endpoints::Auth;
use crate::etag::IfMatch;
use crate::kinds::{Choice, Field, Text};
use crate::resource::{self};
use crate::{ApiError, AppState};

/// The member family: listed and read by [`crate::resource`]'s handlers; changed and removed
/// here, under the role rules.
pub(crate) struct Members;

resource::family! {
    Members: Member => Member, "/v1/members", "members", "a member", "members";
}

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<Members>(e);
    resource::get_route::<Members>(e);
    e.patch("/v1/members/{id}", update)
        .auth(Auth::User)
        .tag("members")
        .summary("Update a member")
        .describe("Name and role (owners and admins, with a user's session; only an owner changes an owner or makes someone owner; 409 `last_owner` for demoting the last owner). Making an owner or admin a member revokes the Amazon Connect credentials they created and disables the webhooks they enabled (`disabled_reason: enabler_demoted`)")
        .body::<PatchBody>()
        .ok::<Member>()
        .errors(&[403, 404, 409, 413, 415, 422]);
    e.delete("/v1/members/{id}", delete)
        .auth(Auth::User)
        .tag("members")
        .summary("Remove a member")
        .describe("Revokes the API keys and Amazon Connect credentials the member created and disables the webhooks they enabled (`disabled_reason: enabler_removed`); their tokens, pending invitations and reset links die with their row")
        .no_content()
        .errors(&[403, 404, 409]);
}

fn owner_only() -> ApiError {
    ApiError::Forbidden {
        code: crate::error::ErrorCode::Forbidden,
        message: "only an owner may create, change or remove an owner",
    }
}

fn last_owner() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::LastOwner,
        message: "an organization keeps at least one owner; make someone else owner first",
    }
}

crate::list::filters! {
    /// List query string.
    Members: ListQuery => MemberFilter {
        role: Choice<Role>,
    }
}

/// Patch body: absent fields stay.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MemberPatch)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Role)]
    role: Option<Option<String>>,
}

crate::rules::field_rules!(PatchBody {
    "name": Text<palisade_domain::PersonName>,
});

/// Opens the transaction for a change to member `id` and reads their role. An owner's transaction
/// first locks the owner rows (see `palisade_db::members::lock_owners`) and returns their ids;
/// an admin never changes owners, so needs no lock. `None` when the member is not here.
///
/// `takes_access` (a removal, or making them a member): before any user row, locks the enabled
/// webhooks the member answers for, which the change disables after its write to the member's
/// row. A webhook write of theirs locks the webhook, then (its trigger) their user row; taking
/// the webhooks first here, in that same order, keeps the two transactions from deadlocking.
/// (Only the webhooks that are theirs when this runs: one that becomes theirs just after can
/// still deadlock this with a write that holds it and waits for a user row this holds,
/// docs/outbound-webhooks.md, "Known limits"; PostgreSQL aborts one, answered 503.)
async fn begin_change(
    state: &AppState,
    tenant: &Tenant,
    id: UserId,
    takes_access: bool,
) -> Result<(TenantTx, Role, Vec<Uuid>), ApiError> {
    let mut tx = tenant.begin(state).await?;
    if takes_access {
        webhooks::lock_enabled_by(&mut tx, id).await?;
    }
    let owners = if tenant.0.role == Role::Owner {
        db::lock_owners(&mut tx).await?
    } else {
        Vec::new()
    };
    let member = db::find(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok((tx, member.role()?, owners))
}

/// `PATCH /v1/members/{id}`: name and role (owners and admins; see the module doc for owners).
#[tracing::instrument(name = "update_member", skip_all)]
pub async fn update(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, UserId::parse)?;
    tenant.require_admin()?;
    let mut f = Fields::default();
    let name = Field::set::<Text<PersonName>>(&mut f, "name", &body.name);
    let role = Field::set::<Choice<Role>>(&mut f, "role", &body.role);
    f.finish()?;
    let (mut tx, current, owners) =
        begin_change(&state, &tenant, id, role == Some(Role::Member)).await?;
    let touches_owner = current == Role::Owner || role == Some(Role::Owner);
    if touches_owner && tenant.0.role != Role::Owner {
        return Err(owner_only());
    }
    let demotes_owner = current == Role::Owner && role.is_some_and(|r| r != Role::Owner);
    if demotes_owner && owners.len() <= 1 {
        return Err(last_owner());
    }
    if_match
        .check(crud::lock::<Member>(&mut tx, id.as_uuid()), Member::from)
        .await?;
    let updated = db::update(&mut tx, id, &MemberPatch { name, role })
        .await?
        .ok_or(ApiError::NotFound)?;
    // A member can neither make Amazon Connect credentials nor manage webhooks, so keeps no
    // credential made, and no webhook enabled, as an owner or admin. Whatever `current` said:
    // it was read before the row's lock, and a promotion and a credential may have come in
    // between (revoking none is an UPDATE that matches no row). After the update, which waited
    // for any webhook write of theirs in progress: this statement sees what it committed.
    let (revoked, disabled) = if role == Some(Role::Member) {
        (
            palisade_db::aws_connect::revoke_credentials_created_by(&mut tx, id).await?,
            webhooks::disable_enabled_by(&mut tx, id).await?,
        )
    } else {
        (0, 0)
    };
    tx.commit().await?;
    if role.is_some_and(|r| r != current) {
        tracing::info!(
            member.id = %id,
            from = current.as_str(),
            to = updated.role.as_str(),
            aws_connect_credentials_revoked = revoked,
            webhooks_disabled = disabled,
            "member role changed"
        );
    }
    Ok(HttpResponse::Ok().json(updated))
}

/// `DELETE /v1/members/{id}` (204; owners and admins, owners only for an owner; never the last
/// owner, not even themselves). Revokes the API keys and the Amazon Connect credentials the
/// member created and disables the webhooks they enabled; their tokens, pending invitations and
/// reset links die with their row.
#[tracing::instrument(name = "remove_member", skip_all)]
pub async fn delete(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, UserId::parse)?;
    tenant.require_admin()?;
    let (mut tx, current, owners) = begin_change(&state, &tenant, id, true).await?;
    if current == Role::Owner {
        if tenant.0.role != Role::Owner {
            return Err(owner_only());
        }
        if owners.len() <= 1 {
            return Err(last_owner());
        }
    }
    if_match
        .check(crud::lock::<Member>(&mut tx, id.as_uuid()), Member::from)
        .await?;
    if !crud::delete::<Member>(&mut tx, id.as_uuid()).await? {
        return Err(ApiError::NotFound);
    }
    // After the DELETE, which waited for any credential mint or webhook write of theirs in
    // progress (each holds their row: `hold_verified_self`, the webhooks' trigger): these
    // statements see what it committed. Before it, a key minted at that moment was not
    // committed yet, and stayed unrevoked. `created_by` and `enabled_by` are no foreign keys:
    // the rows outlive their user.
    let revoked = palisade_db::api_keys::revoke_created_by(&mut tx, id).await?;
    let connect_revoked =
        palisade_db::aws_connect::revoke_credentials_created_by(&mut tx, id).await?;
    let disabled = webhooks::disable_enabled_by(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(
        member.id = %id,
        api_keys_revoked = revoked,
        aws_connect_credentials_revoked = connect_revoked,
        webhooks_disabled = disabled,
        "member removed"
    );
    Ok(HttpResponse::NoContent().finish())
}
