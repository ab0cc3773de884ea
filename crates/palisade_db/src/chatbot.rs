//! The chatbot's settings (one row per organization at most, `palisade.chatbot_settings`) and
//! what the bot would say to a question. The bot itself is a trigger on `chat_messages`
//! (`sql/V0142__create_chatbot.sql`): it answers in the transaction of the customer message, so
//! nothing here posts for it. No query filters by organization: the policies of
//! `policies/305_chatbot_settings.sql` and `330_kb_articles.sql` do.

use palisade_domain::{BotText, ConfidenceThreshold, MessageBody};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud::Table;
use crate::{DbError, TenantTx};

/// The settings of an organization that has never changed them, as the column defaults of
/// `sql/V0140__create_chatbot_settings.sql` write them (tests/api/chatbot.rs checks both agree).
pub mod defaults {
    /// The bot is off until an owner or admin turns it on.
    pub const ENABLED: bool = false;
    /// What the bot says when a message has no searchable word.
    pub const FALLBACK_TEXT: &str =
        "Sorry, I did not understand. Could you ask your question in other words?";
    /// The score an article must reach.
    pub const CONFIDENCE_THRESHOLD: f64 = 0.3;
    /// What the bot says when it hands a conversation to agents.
    pub const HANDOFF_MESSAGE: &str = "Let me pass you to a member of our team.";
}

crate::table! {
    /// An organization's chatbot settings as stored.
    pub struct Settings in "palisade.chatbot_settings" {
        /// Its id.
        id: Uuid,
        /// Whether the bot answers customers.
        enabled: bool,
        /// Written before the bot's first reply in a conversation, if set.
        greeting: Option<String>,
        /// Written when a customer message has no searchable word.
        fallback_text: String,
        /// The 0-1 score an article must reach to be the answer.
        confidence_threshold: f64,
        /// Written when the bot hands a conversation to agents.
        handoff_message: String,
        /// Creation time.
        created_at: OffsetDateTime,
        /// Last change.
        updated_at: OffsetDateTime,
    }
}

crate::patch_type! {
    /// A partial update: `None` leaves a field alone; `Some(None)` clears the greeting.
    pub struct SettingsPatch for Settings {
        /// Turn the bot on or off.
        enabled: set bool,
        /// New or cleared greeting.
        greeting: clear BotText,
        /// New fallback text.
        fallback_text: set BotText,
        /// New threshold.
        confidence_threshold: set ConfidenceThreshold,
        /// New hand-off message.
        handoff_message: set BotText,
    }
}

/// The acting organization's settings, `None` while it has none (the defaults apply). Ends the
/// transaction.
pub async fn get(tx: TenantTx) -> Result<Option<Settings>, DbError> {
    let rows = tx.query_once(Settings::LIST, &[]).await?;
    rows.first().map(Settings::from_row).transpose()
}

/// The acting organization's settings inside a longer transaction, `None` while it has none.
pub async fn read(tx: &mut TenantTx) -> Result<Option<Settings>, DbError> {
    let row = tx.query_opt(Settings::LIST, &[]).await?;
    row.as_ref().map(Settings::from_row).transpose()
}

/// The settings row locked until the transaction ends (for `If-Match` and the change), `None`
/// while there is none. Locking applies the UPDATE policy: only owners and admins see it.
pub async fn lock(tx: &mut TenantTx) -> Result<Option<Settings>, DbError> {
    let row = tx
        .query_opt(&[Settings::LIST, " FOR UPDATE"].concat(), &[])
        .await?;
    row.as_ref().map(Settings::from_row).transpose()
}

/// The settings row as a change finds it, locked until the transaction ends.
#[derive(Debug)]
pub struct Locked {
    /// The row (`None`: the policies hid it, which only a member's transaction sees).
    pub row: Option<Settings>,
    /// Whether this transaction wrote it, with the defaults: there was none before, so what a
    /// client saw was the defaults.
    pub created: bool,
}

/// Writes the defaults row if the organization has none, then returns the row locked. Of two
/// concurrent first changes, the second's insert waits for the first's and then writes nothing:
/// it finds the first's row (`created: false`), which its precondition must be checked
/// against. Owners and admins only (policies).
pub async fn lock_or_create(tx: &mut TenantTx) -> Result<Locked, DbError> {
    let created = tx
        .execute(
            "INSERT INTO palisade.chatbot_settings (id) VALUES ($1) \
             ON CONFLICT (organization_id) DO NOTHING",
            &[&Uuid::now_v7()],
        )
        .await?
        == 1;
    Ok(Locked {
        row: lock(tx).await?,
        created,
    })
}

/// What the bot would say to a question ([`reply`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// `answer`, `handoff` or `fallback` (docs/chatbot.md).
    pub outcome: String,
    /// The best-ranked published article, if any matches.
    pub article_id: Option<Uuid>,
    /// Its title.
    pub article_title: Option<String>,
    /// Its 0-1 score.
    pub score: Option<f64>,
    /// The text the bot would write.
    pub reply: String,
}

/// What the bot would say to `question` with these settings: the same function the trigger
/// calls (`palisade_private.chatbot_reply`), under row-level security. Writes nothing.
pub async fn reply(
    tx: &mut TenantTx,
    question: &MessageBody,
    threshold: f64,
    fallback_text: &str,
    handoff_message: &str,
) -> Result<Reply, DbError> {
    let row = tx
        .query_one(
            "SELECT outcome, article_id, article_title, score, reply \
               FROM palisade_private.chatbot_reply($1, $2, $3, $4)",
            &[
                &question.as_str(),
                &threshold,
                &fallback_text,
                &handoff_message,
            ],
        )
        .await?;
    Ok(Reply {
        outcome: row.try_get("outcome")?,
        article_id: row.try_get("article_id")?,
        article_title: row.try_get("article_title")?,
        score: row.try_get("score")?,
        reply: row.try_get("reply")?,
    })
}
