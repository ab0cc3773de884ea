//! Credentials that belong to their person (docs/accounts.md): invitations, password change,
//! password reset and email verification.
//!
//! - `GET|POST /v1/invitations`, `GET|DELETE /v1/invitations/{id}` (owners and admins; only an owner
//!   invites an owner or revokes an owner's invitation): an invitation is emailed as a
//!   single-use link carrying a random token (the database keeps its SHA-256). The answer is
//!   the same whether or not the email already has an account: nothing is looked up about it.
//! - `POST /v1/auth/accept-invitation` (public): the invitee's token, name and own password;
//!   creates the member and answers with a token for them. When the email already logs in
//!   somewhere (login emails are unique platform-wide), the invitee, and only they, learn it
//!   from a 409 `email_taken`; the invitation stays pending, and the inviter sees nothing new.
//! - `POST /v1/me/password`: current and new password; every token issued before stops
//!   working, the caller's own included, and the answer carries a fresh token.
//! - `POST /v1/me/token`: a fresh token for the caller's session (a user's token, not an API
//!   key), with the user's current role; no session is renewed past its maximum age after the
//!   login (`PALISADE_SESSION_MAX_SECS`).
//! - `POST /v1/me/revoke-tokens`: ends every token of the caller, on every device, this one
//!   included (the credential version is bumped); the password and API keys stay.
//! - `POST /v1/auth/request-password-reset` (public): answers 202 with the same body whether or
//!   not the email exists; the mail (only when it does) goes out in the background, so the
//!   answer does not wait for it. `POST /v1/auth/reset-password` (public): token and new
//!   password; single use, and every token issued before stops working.
//! - `POST /v1/me/confirm-email` (a user's session): the token of the link signup mailed, sent
//!   with the account's own session; verifies the address (single use). `POST
//!   /v1/me/verify-email`: mails the caller a new link, replacing the last. An unverified user
//!   may not invite (`invite`, and the invitations' policy), nor make an API key, an outbound
//!   webhook or an Amazon Connect credential (`resource::Created::VERIFIED_CREATOR`, and those
//!   tables' policies); each of those checks holds the user's row (`db::hold_verified_self`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::accounts::{
    self as db, AcceptError, INVITATION_EMAIL_KEY, Invitation, Invited, NewInvitation,
};
use palisade_domain::{EmailAddress, InvitationId, Password, PersonName, Role};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::auth::token_response;
use super::{Fields, parse_id};
use crate::auth::{Caller, Renewal, SessionToken, UserCaller, UserSession};
use crate::client_addr::ClientAddr;
use crate::credentials::{LinkToken, link_token_hash};
use crate::endpoints::Auth;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::mail::OutgoingMail;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/invitations", list_invitations)
        .tag("accounts")
        .summary("List invitations")
        .describe("Pending invitations, newest first; `expired` says only whether `expires_at` has passed: a link also stops working (400 `invalid_link`) once its inviter may no longer invite that role: demoted to member, or no longer an owner for an owner's invitation")
        .list_query::<ListQuery>()
        .list::<InvitationJson>()
        .errors(&[403, 422]);
    e.post("/v1/invitations", invite)
        .auth(Auth::User)
        .tag("accounts")
        .summary("Invite someone by email")
        .describe(
            "Inviting an email with a pending invitation, expired or not, replaces it (the old link stops working); only an owner replaces an owner's invitation (403 `forbidden`, as for revoking it)",
        )
        .body::<InviteBody>()
        .created::<InvitationJson>()
        .errors(&[403, 409, 413, 415, 422]);
    e.get("/v1/invitations/{id}", get_invitation)
        .tag("accounts")
        .summary("Get an invitation")
        .ok::<InvitationJson>()
        .errors(&[403, 404]);
    e.delete("/v1/invitations/{id}", revoke_invitation)
        .auth(Auth::User)
        .tag("accounts")
        .summary("Revoke an invitation")
        .describe("The link stops working")
        .no_content()
        .errors(&[403, 404]);
    e.post("/v1/me/password", change_password)
        .auth(Auth::User)
        .tag("accounts")
        .summary("Change your password")
        .describe("Needs the current password (403 `invalid_current_password` otherwise); every token issued before, this one included, stops working")
        .body::<ChangePasswordBody>()
        .ok::<super::auth::TokenResponse>()
        .errors(&[403, 409, 413, 415, 422, 429]);
    e.post("/v1/me/token", renew_token)
        .auth(Auth::User)
        .tag("accounts")
        .summary("Renew your token")
        .describe("A fresh token for this session, with your current role; the one sent keeps working until it expires. No renewal lives past the session's maximum age after the login (`PALISADE_SESSION_MAX_SECS`, default 30 days): then 401 `invalid_token`, and only a login continues")
        .ok::<super::auth::TokenResponse>()
        .errors(&[403]);
    e.post("/v1/me/verify-email", resend_email_verification)
        .auth(Auth::User)
        .tag("accounts")
        .summary("Mail a new email verification link")
        .describe("A new link to verify your address, replacing the previous one; 409 `email_already_verified` when it is verified already")
        .returns::<VerificationSentJson>(202, "Accepted")
        .errors(&[403, 409, 422, 429]);
    e.post("/v1/me/confirm-email", confirm_email)
        .auth(Auth::User)
        .tag("accounts")
        .summary("Verify your email address with its link")
        .describe("The code of the link mailed to you, sent with your own session: the link alone verifies nothing (400 `invalid_link` for another user's while yours is unverified); 409 `email_already_verified` once your address is verified, whatever the link")
        .body::<VerifyEmailBody>()
        .no_content()
        .errors(&[403, 409, 413, 415, 422, 429]);
    e.post("/v1/me/revoke-tokens", revoke_tokens)
        .auth(Auth::User)
        .tag("accounts")
        .summary("Sign out everywhere")
        .describe("Ends every token of yours, on every device, this one included; your password and the API keys you created stay")
        .no_content()
        .errors(&[403]);
}

/// A pending invitation as admins see it: never its token or hash.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Invitation)]
pub struct InvitationJson {
    id: Uuid,
    #[schema(format = Email)]
    email: String,
    /// The role the invitee gets on accepting.
    role: Role,
    /// The member who sent it.
    invited_by: Uuid,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    expires_at: OffsetDateTime,
    /// Whether `expires_at` has passed, nothing more: a link also stops working once its
    /// inviter may no longer invite that role (demoted to member, or no longer an owner for an
    /// owner's invitation).
    expired: bool,
}

impl InvitationJson {
    fn new(i: Invitation, now: OffsetDateTime) -> Self {
        Self {
            expired: i.expires_at <= now,
            id: i.id,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

fn owner_only() -> ApiError {
    ApiError::Forbidden {
        code: crate::error::ErrorCode::Forbidden,
        message: "only an owner may invite an owner or revoke an owner's invitation",
    }
}

fn invalid_link() -> ApiError {
    ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidLink,
        message: "this link is unknown, expired, revoked or already used".into(),
    }
}

fn mail_unavailable() -> ApiError {
    ApiError::Http {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: crate::error::ErrorCode::MailUnavailable,
        message: "the mail could not be sent; nothing was changed, try again later".into(),
    }
}

/// A mail's expiry time, to the second.
fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Invite body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = InvitationCreate)]
pub struct InviteBody {
    /// Where the link is mailed.
    #[schema(required = true, value_type = String, format = Email)]
    email: Option<String>,
    /// Only an owner invites an owner.
    #[schema(required = true, value_type = Role)]
    role: Option<String>,
}

crate::rules::field_rules!(InviteBody {
    "email": Text<EmailAddress>,
    "role": Choice<Role>,
});

/// `POST /v1/invitations` (201; owners and admins, owners only for an owner). Inviting an
/// email with a pending invitation replaces it (the old link stops working); only an owner
/// replaces an owner's invitation, as only an owner revokes one (403).
#[tracing::instrument(name = "invite_member", skip_all)]
pub async fn invite(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    idem: Idempotency,
    body: crate::extract::Json<InviteBody>,
) -> Result<HttpResponse, ApiError> {
    tenant.require_admin()?;
    let mut f = Fields::default();
    let email = f.required("email", body.email.as_deref(), EmailAddress::parse);
    let role = f.required("role", body.role.as_deref(), Role::parse);
    let (email, role) = f.finish_with((email, role))?;
    if role == Role::Owner && tenant.0.role != Role::Owner {
        return Err(owner_only());
    }
    let token = LinkToken::generate()?;
    let now = state.clock.now();
    let new = NewInvitation {
        email: email.clone(),
        role,
        token_hash: token.hash(),
        created_at: now,
        expires_at: now + state.accounts.invitation_ttl,
    };
    // An owner's invitation relied on the inviter being an owner; any other, on an admin.
    let least = if role == Role::Owner {
        Role::Owner
    } else {
        Role::Admin
    };
    let mut tx = begin_or_replay!(idem, &state, tenant.begin_at(&state, least).await?);
    // An unverified address sends nobody mail (the invitations' policy refuses it too).
    if !db::hold_verified_self(&mut tx).await? {
        return Err(ApiError::email_not_verified());
    }
    let invitation = match db::create_invitation(&mut tx, &new).await {
        Ok(Invited::Stored(invitation)) => invitation,
        // As only an owner revokes an owner's invitation.
        Ok(Invited::OwnersInvitationKept) => {
            return Err(ApiError::Forbidden {
                code: crate::error::ErrorCode::Forbidden,
                message: "only an owner may replace an owner's invitation",
            });
        }
        // Another request is inviting the same email at this very moment.
        Err(e) if e.is_unique_violation_of(INVITATION_EMAIL_KEY) => {
            return Err(ApiError::Conflict {
                code: crate::error::ErrorCode::InvitationPending,
                message: "this email is being invited by another request; list invitations and retry",
            });
        }
        Err(e) => return Err(e.into()),
    };
    let organization = db::organization_name(&mut tx).await?;
    // Sent before the commit: a 201 means the mail went out; a failed send changes nothing.
    let link = format!(
        "{}/accept-invitation#token={}",
        state.link_base(),
        token.expose()
    );
    let mail = OutgoingMail {
        to: email,
        subject: format!("You are invited to join {organization} on Palisade"),
        text: format!(
            "Hello,\n\nYou have been invited to join {organization} on Palisade as {role}.\n\n\
             To accept, open this link and choose your own password. It works once, until \
             {expires}:\n\n{link}\n\nIf the link does not open, your page asks for this \
             code:\n\n{code}\n\nIf you did not expect this invitation, ignore this message.\n",
            code = token.expose(),
            role = role.as_str(),
            expires = rfc3339(new.expires_at),
        ),
    };
    match state.mailer.send(mail).await {
        Ok(()) => {}
        Err(e @ crate::mail::MailError::Unmailable(_)) => {
            // The address, not the mail server: sending it again would fail alike.
            tracing::info!(error = %e, "invitation refused: its address cannot be mailed");
            return Err(ApiError::invalid(
                "email",
                "cannot be mailed: the mail server refuses this address; use one of ASCII characters",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "invitation mail not sent");
            return Err(mail_unavailable());
        }
    }
    let id = invitation.id;
    let created = super::created("/v1/invitations", id, InvitationJson::new(invitation, now));
    let created = tx.commit(created).await?;
    tracing::info!(invitation.id = %id, role = role.as_str(), "member invited");
    Ok(created)
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {}

crate::rules::field_rules!(ListQuery {});

/// `GET /v1/invitations?limit=&cursor=` (owners and admins): pending invitations, newest
/// first; `expired` says whether `expires_at` has passed, nothing more: accepting also refuses
/// an invitation whose inviter may no longer invite that role (see `accept_invitation`).
pub async fn list_invitations(
    state: web::Data<AppState>,
    caller: Caller,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tx = caller.begin_as(&state, Role::Admin).await?;
    let page = db::list_invitations(tx, q.page).await?;
    Ok(q.respond(page, |i| InvitationJson::new(i, now)))
}

/// `GET /v1/invitations/{id}` (owners and admins).
pub async fn get_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, InvitationId::parse)?;
    let now = state.clock.now();
    let tx = caller.begin_as(&state, Role::Admin).await?;
    let invitation = db::get_invitation(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(InvitationJson::new(invitation, now)))
}

/// `DELETE /v1/invitations/{id}` (204; owners and admins, owners only for an owner's
/// invitation): the link stops working. Another organization's invitation answers 404 like a
/// missing one.
#[tracing::instrument(name = "revoke_invitation", skip_all)]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, InvitationId::parse)?;
    tenant.require_admin()?;
    let now = state.clock.now();
    let mut tx = tenant.begin(&state).await?;
    let role = db::invitation_role(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if role == Role::Owner && tenant.0.role != Role::Owner {
        return Err(owner_only());
    }
    let current = db::find_invitation(&mut tx, id);
    if_match
        .check(current, |i| InvitationJson::new(i, now))
        .await?;
    if !db::revoke_invitation(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    tracing::info!(invitation.id = %id, "invitation revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// Accept body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = InvitationAccept)]
pub struct AcceptBody {
    /// The code of the invitation link (after `#token=`).
    #[schema(required = true, value_type = String)]
    token: Option<String>,
    /// The new member's name.
    #[schema(required = true, value_type = String)]
    name: Option<String>,
    /// Their own password: at least 12 characters.
    #[schema(required = true, value_type = String, format = Password)]
    password: Option<String>,
}

crate::rules::field_rules!(AcceptBody {
    "name": Text<PersonName>,
    "password": crate::rules::NewPassword,
});

/// `POST /v1/auth/accept-invitation` (public; 201 with a token for the new member).
#[tracing::instrument(name = "accept_invitation", skip_all)]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: crate::extract::Json<AcceptBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let token = f.required("token", body.token.as_deref(), |s| Ok(s.to_owned()));
    let name = f.required("name", body.name.as_deref(), PersonName::parse);
    let password = f.required("password", body.password.as_deref(), Password::parse_new);
    let (token, name, password) = f.finish_with((token, name, password))?;
    state.throttles.invitation.check(&client, Some(&token))?;
    let token_hash = link_token_hash(&token).ok_or_else(invalid_link)?;
    let now = state.clock.now();
    let look_up = || async {
        db::invitation_by_token(&state.pool, &token_hash, now)
            .await?
            .ok_or_else(|| {
                tracing::info!("invitation link refused");
                invalid_link()
            })
    };
    let mut found = look_up().await?;
    let password_hash = state.passwords.hash(&password).await?;
    // The transaction acts as the inviter with the role just looked up; the hash took a while,
    // and the acceptance refuses an inviter whose role changed meanwhile (Invalid): looked up
    // once more, the invitation is accepted with the inviter's role now, or refused by it.
    let mut again = true;
    let (tx, ctx) = loop {
        let mut tx = TenantTx::begin(&state.pool, &found.inviter).await?;
        match db::accept_invitation(&mut tx, found.invitation_id, now, &name, &password_hash).await
        {
            Ok(ctx) => break (tx, ctx),
            Err(AcceptError::Invalid) if again => {
                drop(tx);
                again = false;
                tracing::info!(
                    invitation.id = %found.invitation_id,
                    "invitation gone or its inviter's role changed since it was looked up: looking again"
                );
                found = look_up().await?;
            }
            Err(AcceptError::Invalid) => {
                tracing::info!(invitation.id = %found.invitation_id, "invitation refused: gone, or its inviter may no longer grant it");
                return Err(invalid_link());
            }
            Err(AcceptError::EmailTaken) => {
                tracing::info!(org.id = %found.inviter.org_id, "invitation for an email that already has an account");
                return Err(ApiError::Conflict {
                    code: crate::error::ErrorCode::EmailTaken,
                    message: "this email already has a Palisade account, and an account belongs \
                              to one organization; the invitation stays valid until it expires \
                              (see docs/accounts.md)",
                });
            }
            Err(AcceptError::AddressRefused) => {
                // Its transaction is dropped: the invitation stays, until it expires or is
                // revoked, and opens nothing.
                tracing::warn!(org.id = %found.inviter.org_id, invitation.id = %found.invitation_id, "invitation refused: its email holds an invisible character (made before such emails were refused)");
                return Err(invalid_link());
            }
            Err(AcceptError::Db(e)) => return Err(e.into()),
        }
    };
    tx.commit().await?;
    tracing::info!(org.id = %ctx.org_id, user.id = %ctx.user_id, invitation.id = %found.invitation_id, "invitation accepted");
    // The created resource is the new member (this caller).
    let mut answer = HttpResponse::Created();
    answer.insert_header((
        actix_web::http::header::LOCATION,
        format!("/v1/members/{}", ctx.user_id),
    ));
    Ok(token_response(&state, &ctx, 0)?.answer(answer))
}

/// Password change body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordChange)]
pub struct ChangePasswordBody {
    #[schema(required = true, value_type = String, format = Password)]
    current_password: Option<String>,
    /// At least 12 characters.
    #[schema(required = true, value_type = String, format = Password)]
    new_password: Option<String>,
}

crate::rules::field_rules!(ChangePasswordBody {
    "current_password": crate::rules::PasswordAttempt,
    "new_password": crate::rules::NewPassword,
});

/// `POST /v1/me/password` (200 with a fresh token): needs the current password (403
/// `invalid_current_password` otherwise); every token issued before, this one included, stops
/// working.
#[tracing::instrument(name = "change_password", skip_all)]
pub async fn change_password(
    state: web::Data<AppState>,
    client: ClientAddr,
    UserSession(tenant): UserSession,
    body: crate::extract::Json<ChangePasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let current = f.required(
        "current_password",
        body.current_password.as_deref(),
        Password::parse_attempt,
    );
    let new = f.required(
        "new_password",
        body.new_password.as_deref(),
        Password::parse_new,
    );
    let (current, new) = f.finish_with((current, new))?;
    let tx = tenant.begin_at(&state, Role::Member).await?;
    let (me, _) = palisade_db::auth::me(tx).await?;
    let gone = || ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidToken,
        message: "this token's user no longer exists",
    };
    let me = me.ok_or_else(gone)?;
    let email = EmailAddress::parse_existing(&me.email)
        .map_err(|_| ApiError::internal("a stored login email does not parse"))?;
    // The current password is guessable like a login: it counts against the same limits.
    state.throttles.login.check(&client, Some(email.as_str()))?;
    let record = palisade_db::auth::login_lookup(&state.pool, &email)
        .await?
        .filter(|r| r.ctx.user_id == tenant.0.user_id)
        .ok_or_else(gone)?;
    if !state
        .passwords
        .verify(&current, Some(record.password_hash.clone()))
        .await?
    {
        tracing::info!("password change refused: wrong current password");
        return Err(ApiError::Forbidden {
            code: crate::error::ErrorCode::InvalidCurrentPassword,
            message: "the current password is incorrect",
        });
    }
    let new_hash = state.passwords.hash(&new).await?;
    let mut tx = tenant.begin_at(&state, Role::Member).await?;
    // One statement, which changes nothing when it answers no row: its COMMIT goes with it.
    tx.commit_with_next_statement();
    let version = db::change_password(&mut tx, &record.password_hash, &new_hash, state.clock.now())
        .await?
        .ok_or(ApiError::Conflict {
            code: crate::error::ErrorCode::PasswordChanged,
            message: "the password changed meanwhile; log in again",
        })?;
    // The role the transaction's check found (it may have changed since the extractor's).
    let ctx = tx.context().copied().unwrap_or(tenant.0);
    tx.commit().await?;
    tracing::info!("password changed; earlier tokens revoked");
    Ok(token_response(&state, &ctx, version)?.answer(HttpResponse::Ok()))
}

/// `POST /v1/me/token` (200 with a fresh token, `Cache-Control: no-store`): a user's token for
/// the same session, with the user's current role (an API key: 403 `requires_user_session`).
#[tracing::instrument(name = "renew_token", skip_all)]
pub async fn renew_token(
    state: web::Data<AppState>,
    SessionToken { tenant, claims }: SessionToken,
) -> Result<HttpResponse, ApiError> {
    match state.tokens.renew(&tenant.0, &claims)? {
        Renewal::Renewed { token, expires_in } => {
            tracing::info!(expires_in, "token renewed");
            Ok(
                super::auth::TokenResponse::new(token, expires_in, &tenant.0)
                    .answer(HttpResponse::Ok()),
            )
        }
        Renewal::Expired => {
            tracing::info!("token renewal refused: the token has expired");
            Err(ApiError::Unauthorized {
                code: crate::error::ErrorCode::InvalidToken,
                message: "this token has expired; log in again",
            })
        }
        Renewal::SessionEnded => {
            tracing::info!("token renewal refused: the session reached its maximum age");
            Err(ApiError::Unauthorized {
                code: crate::error::ErrorCode::InvalidToken,
                message: "this session is too old to renew; log in again",
            })
        }
    }
}

/// `POST /v1/me/revoke-tokens` (204): bumps the caller's credential version, so that every token
/// issued to them before, on any device, answers 401 `invalid_token`
/// (`palisade_private.end_sessions`). A user's session only: an API key answers 403
/// `requires_user_session`, and keys are not ended by this. The bump applies only if the
/// version is still the token's: a token ended meanwhile (a password change between the check
/// and the statement, or a concurrent call) answers 401 and ends nothing more.
#[tracing::instrument(name = "revoke_tokens", skip_all)]
pub async fn revoke_tokens(
    state: web::Data<AppState>,
    SessionToken { tenant, claims }: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let mut tx = tenant.begin_at(&state, Role::Member).await?;
    // One statement, which changes nothing when it answers no row: its COMMIT goes with it.
    tx.commit_with_next_statement();
    let version = db::end_sessions(&mut tx, claims.ver, state.clock.now())
        .await?
        .ok_or(ApiError::Unauthorized {
            code: crate::error::ErrorCode::InvalidToken,
            message: "this token has been ended, or its user no longer exists; log in again",
        })?;
    tx.commit().await?;
    tracing::info!(
        credential_version = version,
        "every token of the user ended"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Reset request body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordResetRequest)]
pub struct ResetRequestBody {
    /// The account's login email.
    #[schema(required = true, value_type = String, format = Email)]
    email: Option<String>,
}

crate::rules::field_rules!(ResetRequestBody {
    "email": Text<EmailAddress>,
});

/// The answer to a reset request: the same whether or not the email has an account.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PasswordResetRequested)]
pub struct ResetRequestedJson {
    message: &'static str,
}

/// `POST /v1/auth/request-password-reset` (public; always 202 with the same body).
#[tracing::instrument(name = "request_password_reset", skip_all)]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: crate::extract::Json<ResetRequestBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let email = f.required("email", body.email.as_deref(), EmailAddress::parse_existing);
    let email = f.finish_with(email)?;
    state
        .throttles
        .password_reset
        .check(&client, Some(email.as_str()))?;
    // Everything else happens in the background, the lookup included: the answer takes the same
    // time, and says the same, whether or not the email has an account. (On the server's main
    // thread, which a graceful stop keeps until it is done: crate::background.)
    let span = tracing::Span::current();
    let background = state.background.clone();
    background.spawn(tracing::Instrument::instrument(
        async move {
            if let Err(e) = issue_password_reset(&state, email).await {
                tracing::error!(error = %e, "password reset not issued");
            }
        },
        span,
    ));
    Ok(HttpResponse::Accepted().json(ResetRequestedJson {
        message: "if this email belongs to an account, a link to reset its password is on its way",
    }))
}

/// Creates a reset link for the account of `email`, if there is one, and mails it.
async fn issue_password_reset(state: &AppState, email: EmailAddress) -> Result<(), IssueError> {
    let Some(record) = palisade_db::auth::login_lookup(&state.pool, &email).await? else {
        tracing::info!("password reset requested for an unknown email");
        return Ok(());
    };
    let token = LinkToken::generate().map_err(|_| IssueError::Token)?;
    let now = state.clock.now();
    let expires_at = now + state.accounts.password_reset_ttl;
    let mut tx = TenantTx::begin(&state.pool, &record.ctx).await?;
    if !db::create_password_reset(&mut tx, &token.hash(), now, expires_at).await? {
        // Removed (or their organization deleted) since the lookup: as for an unknown email.
        tracing::info!(org.id = %record.ctx.org_id, user.id = %record.ctx.user_id, "password reset requested for a user removed meanwhile");
        return Ok(());
    }
    tx.commit().await?;
    tracing::info!(org.id = %record.ctx.org_id, user.id = %record.ctx.user_id, "password reset requested");
    let mail = OutgoingMail {
        to: email,
        subject: "Reset your Palisade password".into(),
        text: format!(
            "Hello,\n\nSomeone asked to reset the password of this Palisade account. To \
             choose a new password, open this link. It works once, until \
             {expires}:\n\n{base}/reset-password#token={token}\n\nIf the link does not \
             open, your page asks for this code:\n\n{token}\n\nIf it was not you, \
             ignore this message: your password stays as it is.\n",
            expires = rfc3339(expires_at),
            base = state.link_base(),
            token = token.expose(),
        ),
    };
    state.mailer.send(mail).await?;
    Ok(())
}

/// Why a reset link was not issued (logged; the client has its 202 already). Safe to log: no
/// token, address or database message in it.
#[derive(Debug, thiserror::Error)]
enum IssueError {
    #[error(transparent)]
    Db(#[from] palisade_db::DbError),
    #[error("no random token could be generated")]
    Token,
    #[error("the mail was not sent: {0}")]
    Mail(#[from] crate::mail::MailError),
}

/// Reset body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordReset)]
pub struct ResetBody {
    /// The code of the reset link (after `#token=`).
    #[schema(required = true, value_type = String)]
    token: Option<String>,
    /// At least 12 characters.
    #[schema(required = true, value_type = String, format = Password)]
    new_password: Option<String>,
}

crate::rules::field_rules!(ResetBody {
    "new_password": crate::rules::NewPassword,
});

/// `POST /v1/auth/reset-password` (public; 204): sets the password, consumes the link, and
/// ends every token issued before.
#[tracing::instrument(name = "reset_password", skip_all)]
pub async fn reset_password(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: crate::extract::Json<ResetBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let token = f.required("token", body.token.as_deref(), |s| Ok(s.to_owned()));
    let new = f.required(
        "new_password",
        body.new_password.as_deref(),
        Password::parse_new,
    );
    let (token, new) = f.finish_with((token, new))?;
    state
        .throttles
        .password_reset
        .check(&client, Some(&token))?;
    let token_hash = link_token_hash(&token).ok_or_else(invalid_link)?;
    let new_hash = state.passwords.hash(&new).await?;
    let (org, user) = db::reset_password(&state.pool, &token_hash, state.clock.now(), &new_hash)
        .await?
        .ok_or_else(|| {
            tracing::info!("password reset link refused");
            invalid_link()
        })?;
    tracing::info!(org.id = %org, user.id = %user, "password reset; earlier tokens revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// The mail carrying an email verification link (signup's, or a new one asked for).
pub(crate) fn verification_mail(
    state: &AppState,
    to: EmailAddress,
    token: &LinkToken,
    expires_at: OffsetDateTime,
) -> OutgoingMail {
    OutgoingMail {
        to,
        subject: "Verify your email address for Palisade".into(),
        text: format!(
            "Hello,\n\nThis address was used to create a Palisade account. If you created it, \
             open this link and sign in to it to confirm that the address is yours. It works \
             once, until {expires}:\n\n\
             {base}/verify-email#token={token}\n\nIf the link does not open, your page asks for \
             this code:\n\n{token}\n\nIf you did not create this account, ignore this message, \
             or reset the account's password with this address: the account is then yours.\n",
            expires = rfc3339(expires_at),
            base = state.link_base(),
            token = token.expose(),
        ),
    }
}

/// The answer to a verification link asked for again.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = EmailVerificationSent)]
pub struct VerificationSentJson {
    message: &'static str,
}

/// `POST /v1/me/verify-email` (202; a user's session): mails the caller a new verification link,
/// which replaces the previous one; 409 `email_already_verified` when there is nothing to verify.
/// The mail goes out before the commit: a 202 means it went out, and a failed send changes
/// nothing (the previous link still works).
#[tracing::instrument(name = "resend_email_verification", skip_all)]
pub async fn resend_email_verification(
    state: web::Data<AppState>,
    client: ClientAddr,
    UserCaller(caller): UserCaller,
) -> Result<HttpResponse, ApiError> {
    // A user's session (UserCaller): the token names its user.
    let user = caller.session_user().map(|u| u.to_string());
    state
        .throttles
        .password_reset
        .check(&client, user.as_deref())?;
    let token = LinkToken::generate()?;
    let now = state.clock.now();
    let expires_at = now + state.accounts.email_verification_ttl;
    let mut tx = caller.begin(&state).await?;
    let Some(address) =
        db::renew_email_verification(&mut tx, &token.hash(), now, expires_at).await?
    else {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::EmailAlreadyVerified,
            message: "your email address is verified already",
        });
    };
    let to = EmailAddress::parse_existing(&address)
        .map_err(|_| ApiError::internal("a stored login email that does not parse"))?;
    match state
        .mailer
        .send(verification_mail(&state, to, &token, expires_at))
        .await
    {
        Ok(()) => {}
        Err(e @ crate::mail::MailError::Unmailable(_)) => {
            // The address, not the mail server: sending it again would fail alike.
            tracing::info!(error = %e, "email verification refused: the address cannot be mailed");
            return Err(ApiError::invalid(
                "email",
                "cannot be mailed: the mail server refuses your address",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "email verification mail not sent");
            return Err(mail_unavailable());
        }
    }
    tx.commit().await?;
    tracing::info!("email verification link sent again");
    Ok(HttpResponse::Accepted().json(VerificationSentJson {
        message: "a new link is on its way to your address; the previous one no longer works",
    }))
}

/// Verification body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EmailVerification)]
pub struct VerifyEmailBody {
    /// The code of the verification link (after `#token=`).
    #[schema(required = true, value_type = String)]
    token: Option<String>,
}

crate::rules::field_rules!(VerifyEmailBody {});

/// `POST /v1/me/confirm-email` (a user's session; 204): consumes the caller's own verification
/// link and verifies their address; when it consumed nothing, 409 `email_already_verified` if
/// the caller's address is verified (whatever the link), else 400 `invalid_link` (unknown,
/// expired, replaced or another user's). The session as well as the link: verified means that
/// whoever knows the password also holds the mailbox (`palisade_private.verify_email`).
#[tracing::instrument(name = "confirm_email", skip_all)]
pub async fn confirm_email(
    state: web::Data<AppState>,
    client: ClientAddr,
    UserCaller(caller): UserCaller,
    body: crate::extract::Json<VerifyEmailBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let token = f.required("token", body.token.as_deref(), |s| Ok(s.to_owned()));
    let token = f.finish_with(token)?;
    // A user's session (UserCaller): the token names its user.
    let user = caller.session_user().map(|u| u.to_string());
    state
        .throttles
        .password_reset
        .check(&client, user.as_deref())?;
    let token_hash = link_token_hash(&token).ok_or_else(invalid_link)?;
    let tx = caller.begin(&state).await?;
    match db::verify_email(tx, &token_hash, state.clock.now()).await? {
        db::Verification::Verified => {
            tracing::info!("email address verified");
            Ok(HttpResponse::NoContent().finish())
        }
        db::Verification::AlreadyVerified => Err(ApiError::Conflict {
            code: crate::error::ErrorCode::EmailAlreadyVerified,
            message: "your email address is verified already",
        }),
        db::Verification::InvalidLink => {
            tracing::info!("email verification link refused");
            Err(invalid_link())
        }
    }
}
