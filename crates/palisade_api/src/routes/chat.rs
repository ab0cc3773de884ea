//! `/v1/chat/conversations` and their messages. Another organization's conversation answers
//! 404 exactly like a missing one (RLS hides it); a customer of another organization in a body
//! answers exactly like a missing customer (the composite foreign key refuses it).

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::chat::{
    self as db, Conversation, ConversationFilter, ConversationPatch, Message, MessageFilter,
    NewConversation, PostOutcome,
};
use palisade_domain::{
    ConversationId, ConversationStatus, ConversationSubject, CustomerId, MessageBody, MessageSender,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::query_params::no_such;
use super::{Fields, nullable, parse_id};
use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/chat/conversations", list)
        .tag("chat")
        .summary("List conversations")
        .list_query::<ListQuery>()
        .list::<ConversationJson>()
        .errors(&[422]);
    e.post("/v1/chat/conversations", create)
        .tag("chat")
        .summary("Open a conversation")
        .describe("Opens a conversation")
        .body::<CreateBody>()
        .created::<ConversationJson>()
        .errors(&[413, 415, 422]);
    e.get("/v1/chat/conversations/{id}", get)
        .tag("chat")
        .summary("Get a conversation")
        .ok::<ConversationJson>()
        .errors(&[404]);
    e.patch("/v1/chat/conversations/{id}", update)
        .tag("chat")
        .summary("Update a conversation")
        .describe("Close or reopen (`status`), relink, retitle")
        .body::<PatchBody>()
        .ok::<ConversationJson>()
        .errors(&[404, 413, 415, 422]);
    e.delete("/v1/chat/conversations/{id}", delete)
        .tag("chat")
        .summary("Delete a conversation")
        .describe("Deletes it and its messages")
        .no_content()
        .errors(&[404]);
    e.get("/v1/chat/conversations/{id}/messages", list_messages)
        .tag("chat")
        .summary("List the messages of a conversation")
        .describe("Newest first; 404 when the conversation is not this organization's")
        .list_query::<MessageListQuery>()
        .list::<MessageJson>()
        .errors(&[404, 422]);
    e.post("/v1/chat/conversations/{id}/messages", post_message)
        .tag("chat")
        .summary("Post a message in a conversation")
        .describe("409 `conversation_closed` when the conversation is closed")
        .body::<MessageBodyJson>()
        .returns::<MessageJson>(
            201,
            "Created (no `Location`: messages are read through the conversation's list)",
        )
        .errors(&[404, 409, 413, 415, 422]);
}

/// A conversation as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Conversation)]
pub struct ConversationJson {
    id: Uuid,
    customer_id: Option<Uuid>,
    subject: Option<String>,
    #[schema(value_type = ConversationStatus)]
    status: String,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Conversation> for ConversationJson {
    fn from(c: Conversation) -> Self {
        Self {
            id: c.id,
            customer_id: c.customer_id,
            subject: c.subject,
            status: c.status,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A message as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ChatMessage)]
pub struct MessageJson {
    id: Uuid,
    conversation_id: Uuid,
    #[schema(value_type = MessageSender)]
    sender: String,
    body: String,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
}

impl From<Message> for MessageJson {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            sender: m.sender,
            body: m.body,
            created_at: m.created_at,
        }
    }
}

/// Conversation list query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<ConversationStatus>, inline)]
    status: Option<String>,
    #[param(format = Uuid)]
    customer_id: Option<String>,
}

/// `GET /v1/chat/conversations?status=&customer_id=&created_after=&created_before=`.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = ConversationFilter {
        status: f.optional(
            "status",
            q.filter.status.as_deref(),
            ConversationStatus::parse,
        ),
        customer_id: f.optional(
            "customer_id",
            q.filter.customer_id.as_deref(),
            CustomerId::parse,
        ),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list_conversations(tx, &filter, q.page).await?;
    Ok(q.respond(page, ConversationJson::from))
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConversationCreate)]
pub struct CreateBody {
    /// A customer of this organization.
    #[schema(format = Uuid)]
    customer_id: Option<String>,
    subject: Option<String>,
}

/// `POST /v1/chat/conversations` (201): opens a conversation.
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let new = NewConversation {
        customer_id: f.optional(
            "customer_id",
            body.customer_id.as_deref(),
            CustomerId::parse,
        ),
        subject: f.optional(
            "subject",
            body.subject.as_deref(),
            ConversationSubject::parse,
        ),
    };
    f.finish()?;
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let c = match db::create_conversation(&mut tx, &new).await {
        Err(e) if e.is_foreign_key_violation_of(db::CUSTOMER_FKEY) => {
            return Err(no_such("customer_id"));
        }
        other => other?,
    };
    tx.commit(super::created(
        "/v1/chat/conversations",
        c.id,
        ConversationJson::from(c),
    ))
    .await
}

/// `GET /v1/chat/conversations/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ConversationId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let c = db::get_conversation(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(ConversationJson::from(c)))
}

/// Patch body: absent fields stay; `null` clears `customer_id` or `subject`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConversationPatch)]
pub struct PatchBody {
    /// `closed` closes it, `open` reopens it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = ConversationStatus)]
    status: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    customer_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    subject: Option<Option<String>>,
}

/// `PATCH /v1/chat/conversations/{id}`: close or reopen (`status`), relink, retitle.
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ConversationId::parse)?;
    let mut f = Fields::default();
    let patch = ConversationPatch {
        status: f.not_null("status", &body.status, ConversationStatus::parse),
        customer_id: f.clearable("customer_id", &body.customer_id, CustomerId::parse),
        subject: f.clearable("subject", &body.subject, ConversationSubject::parse),
    };
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_conversation(&mut tx, id), ConversationJson::from)
        .await?;
    let c = match db::update_conversation(&mut tx, id, &patch).await {
        Err(e) if e.is_foreign_key_violation_of(db::CUSTOMER_FKEY) => {
            return Err(no_such("customer_id"));
        }
        other => other?.ok_or(ApiError::NotFound)?,
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ConversationJson::from(c)))
}

/// `DELETE /v1/chat/conversations/{id}` (204): deletes it and its messages.
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ConversationId::parse)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock_conversation(&mut tx, id), ConversationJson::from)
        .await?;
    if !db::delete_conversation(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Message list query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessageListQuery {
    #[param(value_type = Option<MessageSender>, inline)]
    sender: Option<String>,
}

/// `GET /v1/chat/conversations/{id}/messages?sender=&created_after=&created_before=`: newest
/// first; 404 when the conversation is not this organization's.
pub async fn list_messages(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    q: List<MessageListQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ConversationId::parse)?;
    let mut f = Fields::default();
    let filter = MessageFilter {
        sender: f.optional("sender", q.filter.sender.as_deref(), MessageSender::parse),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list_messages(tx, id, &filter, q.page)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(q.respond(page, MessageJson::from))
}

/// Message body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChatMessageCreate)]
pub struct MessageBodyJson {
    #[schema(required = true, value_type = MessageSender)]
    sender: Option<String>,
    #[schema(required = true)]
    body: Option<String>,
}

/// `POST /v1/chat/conversations/{id}/messages` (201); 404 when the conversation is not this
/// organization's, 409 `conversation_closed` when it is closed.
pub async fn post_message(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    path: web::Path<String>,
    body: crate::extract::Json<MessageBodyJson>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ConversationId::parse)?;
    let mut f = Fields::default();
    let sender = f.required("sender", body.sender.as_deref(), MessageSender::parse);
    let text = f.required("body", body.body.as_deref(), MessageBody::parse);
    f.finish()?;
    let (Some(sender), Some(text)) = (sender, text) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let message = match db::post_message(&mut tx, id, sender, &text).await? {
        PostOutcome::Posted(m) => m,
        PostOutcome::NoConversation => return Err(ApiError::NotFound),
        PostOutcome::Closed => {
            return Err(ApiError::Conflict {
                code: crate::error::ErrorCode::ConversationClosed,
                message: "the conversation is closed; reopen it to post",
            });
        }
    };
    tx.commit(HttpResponse::Created().json(MessageJson::from(message)))
        .await
}
