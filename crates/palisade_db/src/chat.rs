//! Chat conversations and their messages: the rows, their filters, the conversation's insert
//! and update, and posting a message; reading, locking, deleting and listing are
//! [`crate::crud`]'s. No query filters by organization: the policies of
//! `policies/300_chat.sql` do, and `organization_id` defaults to the context on insert.

use palisade_domain::{
    ConversationId, ConversationStatus, ConversationSubject, CustomerId, HandoffReason,
    MessageBody, MessageId, MessageSender,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud::Table;
use crate::{DbError, TenantTx};

/// The composite foreign key from a conversation to its customer: violated when the customer
/// does not exist in this organization (missing, or another organization's).
pub const CUSTOMER_FKEY: &str = "chat_conversations_customer_fkey";

crate::table! {
    /// A conversation as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Conversation in "palisade.chat_conversations" {
        /// Its id.
        id: Uuid,
        /// The customer it is with, if known.
        customer_id: Option<Uuid>,
        /// Subject line.
        subject: Option<String>,
        /// `open` or `closed`.
        #[schema(value_type = ConversationStatus)]
        status: String,
        /// When the bot stopped answering in it (handed to agents), if it has.
        #[serde(with = "palisade_domain::timestamp::option")]
        handed_off_at: Option<OffsetDateTime>,
        /// Why: `low_confidence` (no article scored the threshold) or `agent_reply`.
        #[schema(value_type = Option<HandoffReason>)]
        handoff_reason: Option<String>,
        /// The Amazon Connect contact id, for a conversation that came from Connect's contact
        /// events.
        connect_contact_id: Option<String>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

crate::insert_type! {
    /// A conversation to open.
    pub struct NewConversation into Conversation {
        /// The customer, if known.
        customer_id: Option<CustomerId>,
        /// Subject line.
        subject: Option<ConversationSubject>,
    }
}

crate::patch_type! {
    /// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
    pub struct ConversationPatch for Conversation {
        /// Open or close.
        status: set ConversationStatus,
        /// New or cleared customer.
        customer_id: clear CustomerId,
        /// New or cleared subject.
        subject: clear ConversationSubject,
    }
}

crate::filter_type! {
    /// Conversation list filters.
    pub struct ConversationFilter for Conversation {
        /// Only this status.
        status: ConversationStatus => "status = $",
        /// Only with this customer.
        customer_id: CustomerId => "customer_id = $",
    }
}

crate::table! {
    /// A message as stored.
    pub struct Message in "palisade.chat_messages" {
        /// Its id.
        id: Uuid,
        /// Its conversation.
        conversation_id: Uuid,
        /// `agent`, `customer` or `bot`.
        sender: String,
        /// The text.
        body: String,
        /// On a bot answer: the knowledge-base article it quotes.
        article_id: Option<Uuid>,
        /// On a bot answer: the article's 0-1 score.
        score: Option<f64>,
        /// Creation time.
        created_at: OffsetDateTime,
        /// Last change.
        updated_at: OffsetDateTime,
    }
}

crate::filter_type! {
    /// Message list filters: one conversation's (the nested route sets it).
    pub struct MessageFilter for Message {
        /// The conversation (set by the nested route, `/v1/chat/conversations/{id}/messages`).
        conversation_id: ConversationId => "conversation_id = $",
        /// Only from this sender.
        sender: MessageSender => "sender = $",
    }
}

/// Whether conversation `id` exists in this organization.
async fn conversation_exists(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM palisade.chat_conversations WHERE id = $1",
            &[&id],
        )
        .await?
        .is_some())
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
    let sql = [
        "WITH c AS (UPDATE palisade.chat_conversations SET updated_at = now() \
                     WHERE id = $2 AND status = 'open' RETURNING id) \
         INSERT INTO palisade.chat_messages (id, conversation_id, sender, body) \
         SELECT $1, c.id, $3, $4 FROM c \
         RETURNING ",
        Message::COLUMNS,
    ]
    .concat();
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
        return Ok(PostOutcome::Posted(Message::from_row(&row)?));
    }
    Ok(if conversation_exists(tx, id).await? {
        PostOutcome::Closed
    } else {
        PostOutcome::NoConversation
    })
}
