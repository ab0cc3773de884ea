//! Chat conversations and their messages. No query filters by organization: the policies of
//! `policies/300_chat.sql` do, and `organization_id` defaults to the context on insert.

use palisade_domain::{
    ConversationId, ConversationStatus, ConversationSubject, CustomerId, MessageBody, MessageId,
    MessageSender,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// The composite foreign key from a conversation to its customer: violated when the customer
/// does not exist in this organization (missing, or another organization's).
pub const CUSTOMER_FKEY: &str = "chat_conversations_customer_fkey";

/// A conversation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Its id.
    pub id: Uuid,
    /// The customer it is with, if known.
    pub customer_id: Option<Uuid>,
    /// Subject line.
    pub subject: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A conversation to open.
#[derive(Debug, Clone)]
pub struct NewConversation {
    /// The customer, if known.
    pub customer_id: Option<CustomerId>,
    /// Subject line.
    pub subject: Option<ConversationSubject>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct ConversationPatch {
    /// Open or close.
    pub status: Option<ConversationStatus>,
    /// New or cleared customer.
    pub customer_id: Option<Option<CustomerId>>,
    /// New or cleared subject.
    pub subject: Option<Option<ConversationSubject>>,
}

/// Conversation list filters.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// Only this status.
    pub status: Option<ConversationStatus>,
    /// Only with this customer.
    pub customer_id: Option<CustomerId>,
}

const CONVERSATION_COLUMNS: &str = "id, customer_id, subject, status, created_at, updated_at";

fn conversation(r: &Row) -> Result<Conversation, DbError> {
    Ok(Conversation {
        id: r.try_get("id")?,
        customer_id: r.try_get("customer_id")?,
        subject: r.try_get("subject")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of conversations, newest first. Ends the transaction (one round trip).
pub async fn list_conversations(
    tx: TenantTx,
    filter: &ConversationFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Conversation, Cursor>, DbError> {
    let status = filter.status.map(ConversationStatus::as_str);
    let customer = filter.customer_id.map(|c| c.as_uuid());
    ListQuery::new(
        "SELECT id, customer_id, subject, status, created_at, updated_at \
         FROM palisade.chat_conversations WHERE true",
    )
    .and_opt("status = $", status.as_ref())
    .and_opt("customer_id = $", customer.as_ref())
    .page(&page)
    .fetch(tx, page.limit, conversation, |c| Cursor {
        created_at: c.created_at,
        id: c.id,
    })
    .await
}

/// The statement of [`get_conversation`] (and, `FOR UPDATE`, of [`lock_conversation`]).
const GET_CONVERSATION_SQL: &str = "SELECT id, customer_id, subject, status, created_at, updated_at \
             FROM palisade.chat_conversations WHERE id = $1";

/// One conversation, or `None` when it does not exist in this organization.
pub async fn get_conversation(
    tx: TenantTx,
    id: ConversationId,
) -> Result<Option<Conversation>, DbError> {
    let rows = tx
        .query_once(GET_CONVERSATION_SQL, &[&id.as_uuid()])
        .await?;
    rows.first().map(conversation).transpose()
}

/// [`get_conversation`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock_conversation(
    tx: &mut TenantTx,
    id: ConversationId,
) -> Result<Option<Conversation>, DbError> {
    crate::lock::for_update(tx, GET_CONVERSATION_SQL, id.as_uuid(), conversation).await
}

/// Opens a conversation in the acting organization.
pub async fn create_conversation(
    tx: &mut TenantTx,
    new: &NewConversation,
) -> Result<Conversation, DbError> {
    let sql = format!(
        "INSERT INTO palisade.chat_conversations (id, customer_id, subject) VALUES ($1, $2, $3) \
         RETURNING {CONVERSATION_COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &ConversationId::new().as_uuid(),
                &new.customer_id.map(|c| c.as_uuid()),
                &new.subject.as_ref().map(ConversationSubject::as_str),
            ],
        )
        .await?;
    conversation(&row)
}

/// Applies `patch`; `None` when the conversation does not exist in this organization.
pub async fn update_conversation(
    tx: &mut TenantTx,
    id: ConversationId,
    patch: &ConversationPatch,
) -> Result<Option<Conversation>, DbError> {
    let sql = format!(
        "UPDATE palisade.chat_conversations SET \
             status = coalesce($2, status), \
             customer_id = CASE WHEN $3 THEN $4 ELSE customer_id END, \
             subject = CASE WHEN $5 THEN $6 ELSE subject END, \
             updated_at = now() \
         WHERE id = $1 RETURNING {CONVERSATION_COLUMNS}"
    );
    let row = tx
        .query_opt(
            &sql,
            &[
                &id.as_uuid(),
                &patch.status.map(ConversationStatus::as_str),
                &patch.customer_id.is_some(),
                &patch.customer_id.flatten().map(|c| c.as_uuid()),
                &patch.subject.is_some(),
                &patch
                    .subject
                    .as_ref()
                    .and_then(|s| s.as_ref().map(ConversationSubject::as_str)),
            ],
        )
        .await?;
    row.map(|r| conversation(&r)).transpose()
}

/// Deletes a conversation and its messages; `false` when it does not exist here.
pub async fn delete_conversation(tx: &mut TenantTx, id: ConversationId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.chat_conversations WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its id.
    pub id: Uuid,
    /// Its conversation.
    pub conversation_id: Uuid,
    /// `agent`, `customer` or `bot`.
    pub sender: String,
    /// The text.
    pub body: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// Message list filters.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Only from this sender.
    pub sender: Option<MessageSender>,
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, sender, body, created_at, updated_at";

fn message(r: &Row) -> Result<Message, DbError> {
    Ok(Message {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        sender: r.try_get("sender")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of a conversation's messages, newest first; `None` when the conversation does not
/// exist in this organization.
pub async fn list_messages(
    mut tx: TenantTx,
    conversation_id: ConversationId,
    filter: &MessageFilter,
    page: PageRequest<Cursor>,
) -> Result<Option<Page<Message, Cursor>>, DbError> {
    let id = conversation_id.as_uuid();
    let exists = tx
        .query_opt(
            "SELECT 1 FROM palisade.chat_conversations WHERE id = $1",
            &[&id],
        )
        .await?
        .is_some();
    if !exists {
        tx.commit().await?;
        return Ok(None);
    }
    let sender = filter.sender.map(MessageSender::as_str);
    ListQuery::new(
        "SELECT id, conversation_id, sender, body, created_at, updated_at \
         FROM palisade.chat_messages WHERE true",
    )
    .and("conversation_id = $", &id)
    .and_opt("sender = $", sender.as_ref())
    .page(&page)
    .fetch(tx, page.limit, message, |m| Cursor {
        created_at: m.created_at,
        id: m.id,
    })
    .await
    .map(Some)
}

/// What posting a message did.
#[derive(Debug)]
pub enum PostOutcome {
    /// Stored.
    Posted(Message),
    /// The conversation does not exist in this organization.
    NoConversation,
    /// The conversation is closed.
    Closed,
}

/// Posts a message to an open conversation of the acting organization.
pub async fn post_message(
    tx: &mut TenantTx,
    conversation_id: ConversationId,
    sender: MessageSender,
    body: &MessageBody,
) -> Result<PostOutcome, DbError> {
    let id = conversation_id.as_uuid();
    // The conversation must be visible (RLS) and open; the composite foreign key would refuse
    // another organization's conversation anyway. A message is a change of its conversation:
    // the UPDATE moves `updated_at` and locks the row, so a concurrent close waits.
    let sql = format!(
        "WITH c AS (UPDATE palisade.chat_conversations SET updated_at = now() \
                     WHERE id = $2 AND status = 'open' RETURNING id) \
         INSERT INTO palisade.chat_messages (id, conversation_id, sender, body) \
         SELECT $1, c.id, $3, $4 FROM c \
         RETURNING {MESSAGE_COLUMNS}"
    );
    let row = tx
        .query_opt(
            &sql,
            &[
                &MessageId::new().as_uuid(),
                &id,
                &sender.as_str(),
                &body.as_str(),
            ],
        )
        .await?;
    if let Some(row) = row {
        return Ok(PostOutcome::Posted(message(&row)?));
    }
    let exists = tx
        .query_opt(
            "SELECT 1 FROM palisade.chat_conversations WHERE id = $1",
            &[&id],
        )
        .await?
        .is_some();
    Ok(if exists {
        PostOutcome::Closed
    } else {
        PostOutcome::NoConversation
    })
}
