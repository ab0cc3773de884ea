//! `/v1/phone-numbers`: the E.164 numbers an organization holds. Members read; only owners and
//! admins claim, change or release numbers (403 here, and the policies of
//! `policies/320_phone_numbers.sql` refuse it again).
//!
//! Numbers come from the platform's inventory (docs/phone-numbers.md): `POST` claims an
//! available one, atomically; a number that is not available to this organization (unknown,
//! held by anyone, this organization included, or quarantined) answers the same 409
//! `number_unavailable`. `GET /v1/phone-numbers/available` lists what may be claimed, nothing
//! about holders. `DELETE` releases the number into quarantine
//! (`PALISADE_NUMBER_QUARANTINE_DAYS`), refused with 409 `number_in_use` while an SMS campaign
//! that may still send uses it.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use palisade_db::crud::{self, Insert};
use palisade_db::phone_numbers::{
    self as db, NewPhoneNumber, PhoneNumberFilter, PhoneNumberPatch, PhoneNumberRow,
};
use palisade_db::{PageRequest, TenantTx};
use palisade_domain::{
    Capabilities, Capability, IvrMenuId, PhoneLabel, PhoneNumber, PhoneNumberId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Fields;
use super::query_params::no_such;
use crate::auth::Caller;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::resource::{self, Resource, Violation};
use crate::{ApiError, AppState};

/// The phone number family: listing, reading and changing are [`crate::resource`]'s; claiming
/// and releasing go through the inventory, below.
pub(crate) struct PhoneNumbers;

resource::family! {
    PhoneNumbers: PhoneNumberRow => PhoneNumberRow, "/v1/phone-numbers", "phone-numbers", "a phone number", "phone numbers";
    const ADMIN_WRITES: bool = true;
    const VIOLATIONS: &'static [Violation] = &[
        // Already this organization's: the same answer as any other unavailable number.
        Violation::on_write(db::NUMBER_KEY, number_unavailable),
        Violation::on_write(db::IVR_MENU_FKEY, || no_such("ivr_menu_id")),
        Violation::in_use(db::CAMPAIGN_FROM_FKEY, number_in_use),
    ];
}

/// Declares this family's routes (see [`crate::resource`]), `/available` before `/{id}`.
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<PhoneNumbers>(e);
    e.post(PhoneNumbers::COLLECTION, create)
        .tag(PhoneNumbers::TAG)
        .summary("Claim a phone number")
        .describe("Claims an available number from the inventory (owners and admins); 409 `number_unavailable` for any number this organization cannot claim")
        .body::<CreateBody>()
        .created::<PhoneNumberRow>()
        .errors(&[403, 409, 413, 415, 422]);
    e.get("/v1/phone-numbers/available", available)
        .tag(PhoneNumbers::TAG)
        .summary("List the numbers this organization may claim")
        .describe("The numbers this organization may claim now, in number order, `{\"data\": [{\"number\", \"capabilities\"}], \"next_cursor\"}`")
        .query::<AvailableQuery>()
        .ok::<AvailablePageJson>()
        .errors(&[422]);
    resource::get_route::<PhoneNumbers>(e);
    resource::update_route::<PhoneNumbers>(e)
        .describe("Owners and admins; 409 `number_in_use` for dropping `sms` while an SMS campaign that may still send uses the number");
    e.delete(PhoneNumbers::ITEM, delete)
        .tag(PhoneNumbers::TAG)
        .summary("Release a phone number")
        .describe("Releases the number into quarantine; 409 `number_in_use` while an SMS campaign that may still send uses it")
        .no_content()
        .errors(&[403, 404, 409]);
}

/// 409 for a number this organization cannot claim: the same answer whether it is unknown,
/// held by another organization or this one, or quarantined.
fn number_unavailable() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::NumberUnavailable,
        message: "this number is not available",
    }
}

/// 409 for releasing a number, or dropping its `sms` capability, while an SMS campaign that may
/// still send (draft, scheduled, sending) uses it.
fn number_in_use() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::NumberInUse,
        message: "an SMS campaign that may still send uses this number: change its from_number, or cancel it, first",
    }
}

/// 422 for capabilities the carrier does not give this number.
fn capabilities_not_supported() -> ApiError {
    ApiError::invalid(
        "capabilities",
        "includes a capability this number does not have",
    )
}

/// 422 `from_number_not_owned`: an outbound SMS campaign, message or call names a number that
/// is not one of this organization's phone numbers with `capability`.
pub(crate) fn from_number_not_owned(capability: Capability) -> ApiError {
    ApiError::Http {
        status: actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        code: crate::error::ErrorCode::FromNumberNotOwned,
        message: format!(
            "from_number must be one of this organization's phone numbers with the {} capability",
            capability.as_str()
        ),
    }
}

fn parse_capabilities(f: &mut Fields, raw: Option<&Vec<String>>) -> Option<Capabilities> {
    match Capabilities::parse(raw?) {
        Ok(c) => Some(c),
        Err(e) => {
            f.refused("capabilities", &e);
            None
        }
    }
}

crate::list::filters! {
    /// List query string.
    PhoneNumbers: ListQuery => PhoneNumberFilter {
        /// Exact number (E.164).
        number: Text<PhoneNumber>,
        /// Only numbers with this capability.
        capability: Choice<Capability>,
        ivr_menu_id: Id<IvrMenuId>,
    }
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PhoneNumberClaim)]
pub struct CreateBody {
    /// An available number (E.164), see `GET /v1/phone-numbers/available`.
    #[schema(required = true, value_type = String)]
    number: Option<String>,
    label: Option<String>,
    /// Default: every capability the number has; else a subset of them.
    #[schema(value_type = Option<Vec<Capability>>)]
    capabilities: Option<Vec<String>>,
    /// An IVR menu of this organization.
    #[schema(format = Uuid)]
    ivr_menu_id: Option<String>,
}

crate::rules::field_rules!(CreateBody {
    "number": Text<palisade_domain::PhoneNumber>,
    "label": Text<palisade_domain::PhoneLabel>,
    "capabilities": Items<palisade_domain::Capabilities, palisade_domain::Capability>,
});

/// `POST /v1/phone-numbers` (201; owners and admins): claims an available number from the
/// inventory. `capabilities` defaults to all the number has, and may be a subset of them.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let number = f.required("number", body.number.as_deref(), PhoneNumber::parse);
    let label = f.optional("label", body.label.as_deref(), PhoneLabel::parse);
    let requested = parse_capabilities(&mut f, body.capabilities.as_ref());
    let ivr_menu_id = f.optional("ivr_menu_id", body.ivr_menu_id.as_deref(), IvrMenuId::parse);
    let number = f.finish_with(number)?;
    let opened = caller
        .begin_as(&state, palisade_domain::Role::Admin)
        .await?;
    let mut tx = begin_or_replay!(idem, &state, opened);
    // Dropping `tx` on any refusal below rolls the claim back with everything else.
    let Some(held) =
        db::claim(&mut tx, &number, state.clock.now(), state.number_quarantine).await?
    else {
        return Err(number_unavailable());
    };
    let all = || Capabilities::parse(&held).map_err(|e| ApiError::internal(e.reason()));
    // Capabilities beyond the number's are refused after the insert: a number this
    // organization already holds (the claim returns its capabilities too) must answer the
    // insert's 409 `number_unavailable` like any other unavailable number, not a 422 that
    // tells which capabilities it has.
    let (capabilities, beyond) = match requested {
        Some(c) if c.within(&held) => (c, false),
        Some(_) => (all()?, true),
        None => (all()?, false),
    };
    let new = NewPhoneNumber {
        number,
        label,
        capabilities,
        ivr_menu_id,
    };
    let created = new
        .insert(&mut tx)
        .await
        .map_err(resource::write_error::<PhoneNumbers>)?;
    if beyond {
        return Err(capabilities_not_supported());
    }
    tx.commit(super::created(
        PhoneNumbers::COLLECTION,
        created.id,
        created,
    ))
    .await
}

resource::patch! {
    /// Patch body: absent fields stay; `null` clears `label` or `ivr_menu_id`. The number itself
    /// cannot change.
    PhoneNumbers: PatchBody as PhoneNumberPatch => PhoneNumberPatch {
        label: clear Text<PhoneLabel>,
        /// A subset of the capabilities the number has.
        capabilities: set Items<Capabilities, Capability>,
        ivr_menu_id: clear Id<IvrMenuId>,
    }

    /// What the carrier gives the number bounds what the organization may use it for.
    async fn check(tx: &mut TenantTx, id: Uuid, patch: &PhoneNumberPatch) -> Result<(), ApiError> {
        let Some(wanted) = &patch.capabilities else {
            return Ok(());
        };
        let number = db::number_of(tx, PhoneNumberId::from_uuid(id))
            .await?
            .ok_or(ApiError::NotFound)?;
        let held = db::held_capabilities(tx, &number).await?;
        if held.is_some_and(|h| wanted.within(&h)) {
            Ok(())
        } else {
            Err(capabilities_not_supported())
        }
    }
}

/// `DELETE /v1/phone-numbers/{id}` (204; owners and admins): releases the number into
/// quarantine; 409 `number_in_use` while an SMS campaign that may still send uses it.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = resource::path_id(&path)?;
    let mut tx = caller
        .begin_as(&state, palisade_domain::Role::Admin)
        .await?;
    if_match
        .check(crud::lock::<PhoneNumberRow>(&mut tx, id), |n| n)
        .await?;
    let number = db::delete(&mut tx, PhoneNumberId::from_uuid(id))
        .await
        .map_err(resource::write_error::<PhoneNumbers>)?
        .ok_or(ApiError::NotFound)?;
    if !db::release(&mut tx, &number, state.clock.now()).await? {
        return Err(ApiError::internal(
            "a phone number row existed without its inventory assignment",
        ));
    }
    tx.commit().await?;
    tracing::info!(resource = PhoneNumbers::COLLECTION, %id, "deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/phone-numbers/available` query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AvailableQuery {
    /// Only numbers with this capability.
    #[param(value_type = Option<Capability>, inline)]
    capability: Option<String>,
    /// Items per page, 1 to 100 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The previous page's `next_cursor`, unchanged.
    cursor: Option<String>,
}

crate::rules::field_rules!(AvailableQuery {});

/// An available number as clients see it: the number and what it can do, nothing else.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AvailablePhoneNumber)]
pub struct AvailableJson {
    /// E.164.
    number: String,
    #[schema(value_type = Vec<Capability>)]
    capabilities: Vec<String>,
}

/// A page of available numbers, in number order.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AvailablePhoneNumbers)]
pub struct AvailablePageJson {
    data: Vec<AvailableJson>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// A cursor over numbers: base64url of `n2:<capability filter, or nothing>:<number>`, opaque to
/// clients. Like every other list's cursor it holds its filter, so a cursor given with another
/// filter is refused (400 `invalid_cursor`) rather than silently continuing another walk.
fn encode_number_cursor(capability: Option<&str>, number: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("n2:{}:{number}", capability.unwrap_or("")))
}

/// The number after which the page starts, from a cursor made for `capability`.
fn decode_number_cursor(raw: &str, capability: Option<&str>) -> Result<String, ApiError> {
    let bad = |message: &'static str| ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidCursor,
        message: message.into(),
    };
    let foreign = || bad("the cursor is not one this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| foreign())?;
    let text = String::from_utf8(bytes).map_err(|_| foreign())?;
    let (filter, number) = text
        .strip_prefix("n2:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(foreign)?;
    PhoneNumber::parse(number).map_err(|_| foreign())?;
    if filter != capability.unwrap_or("") {
        return Err(bad(
            "the cursor was made for another capability filter: start again without a cursor",
        ));
    }
    Ok(number.to_owned())
}

/// `GET /v1/phone-numbers/available?capability=&limit=&cursor=` (every role): the numbers this
/// organization may claim now, in number order, `{"data": [{"number", "capabilities"}],
/// "next_cursor"}`. A number this organization released and may still take back is included;
/// nothing says who holds any other number.
pub async fn available(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<AvailableQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let capability = f.optional("capability", q.capability.as_deref(), Capability::parse);
    let limit = f.limit(q.limit.as_deref());
    f.finish()?;
    let filter = capability.map(|c| c.as_str());
    let after = q
        .cursor
        .as_deref()
        .map(|c| decode_number_cursor(c, filter))
        .transpose()?;
    let tx = caller.begin(&state).await?;
    let page = db::available(
        tx,
        state.clock.now(),
        state.number_quarantine,
        capability,
        PageRequest {
            after,
            limit: limit.unwrap_or(crate::list::DEFAULT_LIMIT),
            created: Default::default(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(AvailablePageJson {
        data: page
            .items
            .into_iter()
            .map(|n| AvailableJson {
                number: n.number,
                capabilities: n.capabilities,
            })
            .collect(),
        next_cursor: page
            .next
            .as_deref()
            .map(|n| encode_number_cursor(filter, n)),
    }))
}
