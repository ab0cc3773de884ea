//! `/v1/chat/conversations` and their messages. The conversation handlers are
//! [`crate::resource`]'s: another organization's conversation answers 404 exactly like a
//! missing one (RLS hides it); a customer of another organization in a body answers exactly
//! like a missing customer (the composite foreign key refuses it). Messages are a collection
//! nested in their conversation, served here.

use actix_web::{HttpResponse, web};
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
use super::{Fields, parse_id};
use crate::auth::Caller;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::resource::{self, Violation, Within};
use crate::{ApiError, AppState};

/// The conversation family.
pub(crate) struct Conversations;

resource::family! {
    Conversations: Conversation => Conversation, "/v1/chat/conversations", "chat", "a conversation", "conversations";
    const VIOLATIONS: &'static [Violation] = &[Violation::on_write(db::CUSTOMER_FKEY, || {
        no_such("customer_id")
    })];
}

impl crate::changes::Synced for Conversations {
    const CHANGES: &'static str = "/v1/chat/conversations/changes";
}

/// A conversation's messages (listed by [`crate::resource`]; posted here), and every
/// conversation's messages' changes feed ([`crate::changes`]).
pub(crate) struct Messages;

impl crate::changes::Synced for Messages {
    const CHANGES: &'static str = "/v1/chat/messages/changes";
}

// No item route is declared: messages are read through their conversation's list.
resource::family! {
    Messages: Message => MessageJson, "/v1/chat/conversations/{id}/messages", "chat", "a message", "messages";
}

/// Declares this family's routes (see [`crate::resource`] and, for the conversations' changes
/// feed declared before the item routes whose `{id}` would take its path, [`crate::changes`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    crate::changes::changes_route::<Conversations>(e);
    crate::changes::changes_route::<Messages>(e).describe(
        "Incremental sync of every conversation's messages (docs/api.md, \"Incremental sync\"): \
         without `since`, every message of the organization, a page at a time; with the \
         `next_since` of the last page of a sync, the messages posted or changed since and the \
         ids of those deleted (a conversation's messages are deleted with it). A token not good \
         here answers 410 `sync_token_expired`: sync again from the start.",
    );
    resource::list_route::<Conversations>(e);
    resource::create_route::<Conversations>(e)
        .summary("Open a conversation")
        .describe("Opens a conversation");
    resource::get_route::<Conversations>(e);
    resource::update_route::<Conversations>(e)
        .describe("Close or reopen (`status`), relink, retitle");
    resource::delete_route::<Conversations>(e).describe("Deletes it and its messages");
    resource::list_within_route::<Messages>(e)
        .summary("List the messages of a conversation")
        .describe("Newest first; 404 when the conversation is not this organization's");
    e.post("/v1/chat/conversations/{id}/messages", post_message)
        .tag("chat")
        .summary("Post a message in a conversation")
        .describe("`sender` is `customer` or `agent`: only the server writes `bot` (422). A customer message gets the chatbot's reply in the same transaction while the bot is active; an agent's hands the conversation over (docs/chatbot.md). 409 `conversation_closed` when the conversation is closed")
        .body::<MessageBodyJson>()
        .returns::<MessageJson>(
            201,
            "Created (no `Location`: messages are read through the conversation's list)",
        )
        .errors(&[404, 409, 413, 415, 422]);
}

crate::list::filters! {
    /// Conversation list query string.
    Conversations: ListQuery => ConversationFilter {
        status: Choice<ConversationStatus>,
        customer_id: Id<CustomerId>,
    }
}

resource::created! {
    /// Create body.
    Conversations: CreateBody as ConversationCreate => NewConversation {
        /// A customer of this organization.
        customer_id: optional Id<CustomerId>,
        subject: optional Text<ConversationSubject>,
    }
}

resource::patch! {
    /// Patch body: absent fields stay; `null` clears `customer_id` or `subject`.
    Conversations: PatchBody as ConversationPatch => ConversationPatch {
        /// `closed` closes it, `open` reopens it.
        status: set Choice<ConversationStatus>,
        customer_id: clear Id<CustomerId>,
        subject: clear Text<ConversationSubject>,
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
    /// On a bot answer: the knowledge-base article it quotes (`null` otherwise, and once the
    /// article is deleted).
    article_id: Option<Uuid>,
    /// On a bot answer: the article's 0-1 score (docs/chatbot.md).
    score: Option<f64>,
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
            article_id: m.article_id,
            score: m.score,
            created_at: m.created_at,
        }
    }
}

crate::list::filters! {
    /// Message list query string.
    Messages: MessageListQuery => MessageFilter {
        sender: Choice<MessageSender>,
        ..Default::default() // conversation_id: the nested route's
    }
}

/// Messages are listed only under their conversation (no route lists them all).
impl Within for Messages {
    type Parent = Conversation;
    const NESTED: &'static str = "/v1/chat/conversations/{id}/messages";

    fn within(filter: &mut MessageFilter, conversation: Uuid) -> Result<(), ApiError> {
        filter.conversation_id = Some(ConversationId::from_uuid(conversation));
        Ok(())
    }
}

/// Message body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChatMessageCreate)]
pub struct MessageBodyJson {
    #[schema(required = true, value_type = MessageSender)]
    sender: Option<String>,
    #[schema(required = true, value_type = String)]
    body: Option<String>,
}

crate::rules::field_rules!(MessageBodyJson {
    "sender": crate::rules::ClientSender,
    "body": Text<palisade_domain::MessageBody>,
});

/// `POST /v1/chat/conversations/{id}/messages` (201); 404 when the conversation is not this
/// organization's, 409 `conversation_closed` when it is closed.
pub async fn post_message(
    state: web::Data<AppState>,
    caller: Caller,
    idem: Idempotency,
    path: web::Path<String>,
    body: crate::extract::Json<MessageBodyJson>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ConversationId::parse)?;
    let mut f = Fields::default();
    let sender = f.required("sender", body.sender.as_deref(), MessageSender::parse);
    if sender == Some(MessageSender::Bot) {
        // The chatbot writes bot messages itself (docs/chatbot.md); the policies refuse them too.
        f.invalid(
            "sender",
            "only the server writes bot messages: agent or customer",
        );
    }
    let text = f.required("body", body.body.as_deref(), MessageBody::parse);
    let (sender, text) = f.finish_with((sender, text))?;
    let mut tx = begin_or_replay!(idem, &state, caller.begin(&state).await?);
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
