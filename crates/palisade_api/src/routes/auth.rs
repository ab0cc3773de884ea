//! `POST /v1/auth/signup`, `POST /v1/auth/login`, `GET /v1/me`.
//!
//! Signup and login are throttled per client address and per email ([`crate::throttle`]):
//! checked once the body is read, before any lookup or argon2 hash, so a throttled attempt
//! costs nothing and, while throttled, even the right password answers 429.

use actix_web::{HttpResponse, web};
use palisade_db::auth::{self as db, NewSignup, SignupError};
use palisade_domain::{EmailAddress, OrganizationName, Password, PersonName, TenantContext};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Fields;
use crate::auth::{Caller, UserCaller};
use crate::client_addr::ClientAddr;
use crate::credentials::LinkToken;
use crate::kinds::{Field, Text};
use crate::{ApiError, AppState};

/// Signup body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Signup)]
pub struct SignupBody {
    /// 1 to 200 characters.
    #[schema(required = true, value_type = String)]
    organization_name: Option<String>,
    /// The owner's name.
    #[schema(required = true, value_type = String)]
    name: Option<String>,
    /// The owner's login email.
    #[schema(required = true, value_type = String, format = Email)]
    email: Option<String>,
    /// At least 12 characters.
    #[schema(required = true, value_type = String, format = Password)]
    password: Option<String>,
}

crate::rules::field_rules!(SignupBody {
    "organization_name": Text<palisade_domain::OrganizationName>,
    "name": Text<PersonName>,
    "email": Text<EmailAddress>,
    "password": crate::rules::NewPassword,
});

/// Login body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Login)]
pub struct LoginBody {
    #[schema(required = true, value_type = String, format = Email)]
    email: Option<String>,
    #[schema(required = true, value_type = String, format = Password)]
    password: Option<String>,
}

crate::rules::field_rules!(LoginBody {
    "password": crate::rules::PasswordAttempt,
});

/// A token and what it is for.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Token)]
pub(crate) struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`.
    #[schema(extensions(("x-palisade-secret" = json!(true))))]
    token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until it expires.
    expires_in: u64,
    organization_id: Uuid,
    user_id: Uuid,
    role: palisade_domain::Role,
}

/// The answer that hands out a token for `ctx`, valid while the user's credential version is
/// `credential_version`.
pub(crate) fn token_response(
    state: &AppState,
    ctx: &TenantContext,
    credential_version: i32,
) -> Result<TokenResponse, ApiError> {
    Ok(TokenResponse::new(
        state.tokens.issue(ctx, credential_version)?,
        state.tokens.ttl().as_secs(),
        ctx,
    ))
}

impl TokenResponse {
    /// `answer` carrying this token, never stored (`Cache-Control: no-store`, `Pragma:
    /// no-cache`: [`crate::resource::never_stored`]): no cache may keep an answer that carries a
    /// token (RFC 6749 section 5.1), as none may keep a one-time secret
    /// ([`crate::resource::with_secret`]). Every answer that hands out a token is made here.
    pub(crate) fn answer(self, answer: actix_web::HttpResponseBuilder) -> HttpResponse {
        crate::resource::never_stored(answer).json(self)
    }

    /// The answer that hands out `token`, for `ctx`, expiring in `expires_in` seconds.
    pub(crate) fn new(token: String, expires_in: u64, ctx: &TenantContext) -> Self {
        Self {
            token,
            token_type: "Bearer",
            expires_in,
            organization_id: ctx.org_id.as_uuid(),
            user_id: ctx.user_id.as_uuid(),
            role: ctx.role,
        }
    }
}

/// Creates an organization and its owner, and returns a token for the owner (201). The owner's
/// address is unverified until the link mailed to it is opened (docs/accounts.md).
#[tracing::instrument(name = "signup", skip_all)]
pub async fn signup(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: crate::extract::Json<SignupBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let organization_name = f.required(
        "organization_name",
        body.organization_name.as_deref(),
        OrganizationName::parse,
    );
    let name = f.required("name", body.name.as_deref(), PersonName::parse);
    let email = f.required("email", body.email.as_deref(), EmailAddress::parse);
    let password = f.required("password", body.password.as_deref(), Password::parse_new);
    let (organization_name, name, email, password) =
        f.finish_with((organization_name, name, email, password))?;
    state
        .throttles
        .signup
        .check(&client, Some(email.as_str()))?;
    let password_hash = state.passwords.hash(&password).await?;
    let verification = LinkToken::generate()?;
    let now = state.clock.now();
    let input = NewSignup {
        organization_name,
        name,
        email,
        password_hash,
        verification_hash: verification.hash(),
        now,
        verification_expires_at: now + state.accounts.email_verification_ttl,
    };
    let ctx = match db::signup(&state.pool, &input).await {
        Ok(ctx) => ctx,
        Err(SignupError::EmailTaken) => {
            return Err(ApiError::Taken {
                code: crate::error::ErrorCode::EmailTaken,
                field: "email",
                message: "this email is already registered; log in instead",
            });
        }
        Err(SignupError::Db(e)) => return Err(e.into()),
    };
    tracing::info!(org.id = %ctx.org_id, user.id = %ctx.user_id, "organization signed up");
    // The link goes out after the commit, in the background as a reset request's does: the
    // answer does not wait for the mail server (a client that timed out and tried again would
    // find its email taken), and the account exists whether or not the mail does (a new link
    // can be asked for: POST /v1/me/verify-email). On the server's main thread, which a
    // graceful stop keeps until it is done (crate::background).
    let mail = super::accounts::verification_mail(
        &state,
        input.email.clone(),
        &verification,
        input.verification_expires_at,
    );
    let span = tracing::Span::current();
    let background = state.background.clone();
    let mailer = state.mailer.clone();
    background.spawn(tracing::Instrument::instrument(
        async move {
            if let Err(e) = mailer.send(mail).await {
                tracing::error!(error = %e, "email verification mail not sent at signup");
            }
        },
        span,
    ));
    // The created resource is the organization (one per caller: its URL has no id).
    let mut answer = HttpResponse::Created();
    answer.insert_header((actix_web::http::header::LOCATION, "/v1/organization"));
    Ok(token_response(&state, &ctx, 0)?.answer(answer))
}

/// Exchanges email and password for a token. An unknown email and a wrong password answer the
/// same 401 and cost the same argon2 verification.
#[tracing::instrument(name = "login", skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: crate::extract::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let email_raw = f.required("email", body.email.as_deref(), |s| Ok(s.to_owned()));
    let password = f.required(
        "password",
        body.password.as_deref(),
        Password::parse_attempt,
    );
    let (email_raw, password) = f.finish_with((email_raw, password))?;
    state.throttles.login.check(&client, Some(&email_raw))?;
    // A malformed email cannot belong to anyone; treat it as unknown rather than say so.
    let record = match EmailAddress::parse_existing(&email_raw) {
        Ok(email) => db::login_lookup(&state.pool, &email).await?,
        Err(_) => None,
    };
    let (ctx, stored) = match record {
        Some(r) => (Some((r.ctx, r.credential_version)), Some(r.password_hash)),
        None => (None, None),
    };
    let ok = state.passwords.verify(&password, stored).await?;
    match (ok, ctx) {
        (true, Some((ctx, version))) => {
            tracing::info!(org.id = %ctx.org_id, user.id = %ctx.user_id, "login succeeded");
            Ok(token_response(&state, &ctx, version)?.answer(HttpResponse::Ok()))
        }
        _ => {
            tracing::info!("login refused");
            Err(ApiError::Unauthorized {
                code: crate::error::ErrorCode::InvalidCredentials,
                message: "email or password is incorrect",
            })
        }
    }
}

/// `GET /v1/me`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Me)]
pub struct MeJson {
    user: MeUser,
    organization: MeOrganization,
    /// What this credential may do: the user's role for a user's token, the key's role (capped
    /// by its creator's current role) for an API key.
    role: palisade_domain::Role,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct MeUser {
    id: uuid::Uuid,
    email: String,
    name: String,
    /// The user's own role in the organization.
    role: palisade_domain::Role,
    /// Whether the user's address is verified: by its link (mailed at signup), by a password
    /// reset (its link went to the address), or by joining through an invitation. Until then
    /// the user may not invite anyone or make an API key, an outbound webhook or an Amazon
    /// Connect credential.
    email_verified: bool,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: time::OffsetDateTime,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct MeOrganization {
    id: uuid::Uuid,
    name: String,
}

/// The acting user and organization, and the credential's effective role.
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    me_json(db::me(caller.begin(&state).await?).await?)
}

/// `PATCH /v1/me` body: absent fields stay.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MePatch)]
pub struct MePatchBody {
    /// Your name, 1 to 200 characters (`null` is 422: a name cannot be cleared).
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = String)]
    name: Option<Option<String>>,
}

crate::rules::field_rules!(MePatchBody {
    "name": Text<PersonName>,
});

/// `PATCH /v1/me` (200, the same body as `GET /v1/me`): changes the caller's own name, whatever
/// their role (`palisade_private.rename_self`); a user's session only, so an API key cannot
/// rename its creator. Nothing else about a user is theirs to change here: their role is an
/// owner's or admin's to change, their email is their login. The token is checked by the
/// transaction's opening statement ([`UserCaller`]); the rename and the answer's read are one
/// statement, sent with it and COMMIT ([`db::rename_self`]): one round trip.
#[tracing::instrument(name = "update_me", skip_all)]
pub async fn update_me(
    state: web::Data<AppState>,
    UserCaller(caller): UserCaller,
    body: crate::extract::Json<MePatchBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let name = Field::set::<Text<PersonName>>(&mut f, "name", &body.name);
    f.finish()?;
    let tx = caller.begin(&state).await?;
    let Some(name) = &name else {
        return me_json(db::me(tx).await?);
    };
    let read = db::rename_self(tx, name, state.clock.now()).await?;
    if read.0.is_some() {
        tracing::info!("user renamed themselves");
    }
    me_json(read)
}

fn user_gone() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidToken,
        message: "this token's user no longer exists",
    }
}

/// The answer of `GET /v1/me` from what [`db::me`] read.
fn me_json(read: (Option<db::Me>, Option<TenantContext>)) -> Result<HttpResponse, ApiError> {
    let (me, ctx) = read;
    // The check passed, so the user existed when the statement ran: no row, or no context,
    // would mean the user is gone (removed, or the organization deleted).
    let (Some(me), Some(ctx)) = (me, ctx) else {
        return Err(user_gone());
    };
    Ok(HttpResponse::Ok().json(MeJson {
        user: MeUser {
            id: me.user_id,
            email: me.email,
            name: me.name,
            role: me.role,
            email_verified: me.email_verified,
            created_at: me.created_at,
        },
        organization: MeOrganization {
            id: me.organization_id,
            name: me.organization_name,
        },
        role: ctx.role,
    }))
}
