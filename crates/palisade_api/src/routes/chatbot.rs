//! `/v1/chatbot`: the organization's chatbot settings (one per organization: `GET` and `PATCH`
//! on `/v1/chatbot/settings`, like `/v1/organization`) and `POST /v1/chatbot/ask`, what the bot
//! would say to a question, written nowhere. The bot itself answers customer messages in the
//! database, in the transaction that stores them (`palisade_db::chatbot`, docs/chatbot.md).

use actix_web::{HttpResponse, web};
use palisade_db::chatbot::{self as db, Settings, SettingsPatch, defaults};
use palisade_domain::{BotOutcome, BotText, ConfidenceThreshold, MessageBody};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Fields;
use crate::auth::Caller;
use crate::etag::IfMatch;
use crate::resource::{self, Patched};
use crate::{ApiError, AppState};

/// The settings family: its PATCH body is declared like every family's ([`resource::patch!`]);
/// its routes are a singleton's, written here.
pub(crate) struct Chatbot;

resource::family! {
    Chatbot: Settings => SettingsJson, "/v1/chatbot/settings", "chatbot", "the chatbot settings", "chatbot settings";
    const ADMIN_WRITES: bool = true;
}

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/chatbot/settings", get)
        .tag("chatbot")
        .summary("Get the chatbot settings")
        .describe(
            "The defaults (bot disabled, `updated_at` null) until an owner or admin changes them",
        )
        .ok::<SettingsJson>();
    e.patch("/v1/chatbot/settings", update)
        .tag("chatbot")
        .summary("Change the chatbot settings")
        .describe("Owners and admins; absent fields stay, `greeting: null` removes the greeting")
        .body::<PatchBody>()
        .ok::<SettingsJson>()
        .errors(&[403, 413, 415, 422]);
    e.post("/v1/chatbot/ask", ask)
        .tag("chatbot")
        .summary("Ask the chatbot without a conversation")
        .describe("What the bot would answer to `question` with the current settings (the best published article, its score, the threshold, whether it would hand off); writes nothing, so it takes no `Idempotency-Key`. Limited per organization (`PALISADE_RATE_LIMIT_CHATBOT_ASK_PER_ORGANIZATION`, default 30 a minute): 429 `rate_limited` with `Retry-After`")
        .body::<AskBody>()
        .ok::<AskJson>()
        .errors(&[413, 415, 422, 429]);
}

/// The chatbot settings as clients see them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ChatbotSettings)]
pub struct SettingsJson {
    /// Whether the bot answers customer messages.
    enabled: bool,
    /// Written before the bot's first reply in a conversation; `null`: no greeting.
    greeting: Option<String>,
    /// Written when a customer message has no searchable word.
    fallback_text: String,
    /// The 0-1 score the best article must reach for the bot to answer with it.
    confidence_threshold: f64,
    /// Written when the bot hands a conversation to agents.
    handoff_message: String,
    /// Last change; `null` while the defaults apply.
    #[serde(with = "palisade_domain::timestamp::option")]
    updated_at: Option<OffsetDateTime>,
}

impl SettingsJson {
    /// The settings of an organization that has never changed them.
    fn defaults() -> Self {
        Self {
            enabled: defaults::ENABLED,
            greeting: None,
            fallback_text: defaults::FALLBACK_TEXT.to_owned(),
            confidence_threshold: defaults::CONFIDENCE_THRESHOLD,
            handoff_message: defaults::HANDOFF_MESSAGE.to_owned(),
            updated_at: None,
        }
    }

    fn of(row: Option<Settings>) -> Self {
        row.map_or_else(Self::defaults, Self::from)
    }
}

impl From<Settings> for SettingsJson {
    fn from(s: Settings) -> Self {
        Self {
            enabled: s.enabled,
            greeting: s.greeting,
            fallback_text: s.fallback_text,
            confidence_threshold: s.confidence_threshold,
            handoff_message: s.handoff_message,
            updated_at: Some(s.updated_at),
        }
    }
}

resource::patch! {
    /// Patch body: absent fields stay; `null` removes the greeting.
    Chatbot: PatchBody as ChatbotSettingsPatch => SettingsPatch {
        enabled: set Flag,
        /// 1 to 1000 characters.
        greeting: clear Text<BotText>,
        /// 1 to 1000 characters.
        fallback_text: set Text<BotText>,
        /// 0 to 1.
        confidence_threshold: set Real<ConfidenceThreshold>,
        /// 1 to 1000 characters.
        handoff_message: set Text<BotText>,
    }
}

/// `GET /v1/chatbot/settings` (every role).
pub async fn get(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tx = caller.begin(&state).await?;
    Ok(HttpResponse::Ok().json(SettingsJson::of(db::get(tx).await?)))
}

/// `PATCH /v1/chatbot/settings` (owners and admins): the first change writes the row.
#[tracing::instrument(name = "update_chatbot_settings", skip_all)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let patch: SettingsPatch = <Chatbot as Patched>::parse(&body, &mut f);
    f.finish()?;
    let mut tx = caller
        .begin_as(&state, palisade_domain::Role::Admin)
        .await?;
    // The precondition is on what a GET answered: the row, or the defaults while there was none
    // (this transaction just wrote it). Checked after the insert, whose wait for a concurrent
    // first change makes it see that change: checked before, both passed on the defaults.
    let locked = db::lock_or_create(&mut tx).await?;
    let row = locked.row.ok_or(ApiError::NotFound)?;
    let seen = if locked.created {
        SettingsJson::defaults()
    } else {
        SettingsJson::from(row.clone())
    };
    if_match.check(async { Ok(Some(seen)) }, |j| j).await?;
    let row = palisade_db::crud::Update::update(&patch, &mut tx, row.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    tracing::info!(resource = "/v1/chatbot/settings", id = %row.id, "updated");
    Ok(HttpResponse::Ok().json(SettingsJson::from(row)))
}

/// `POST /v1/chatbot/ask`'s body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChatbotQuestion)]
pub struct AskBody {
    /// What a customer would write: 1 to 4000 characters.
    #[schema(required = true, value_type = String)]
    question: Option<String>,
}

crate::rules::field_rules!(AskBody {
    "question": Text<palisade_domain::MessageBody>,
});

/// The article the bot would quote.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ChatbotArticle)]
pub struct ArticleRef {
    id: Uuid,
    title: String,
}

/// `POST /v1/chatbot/ask`'s answer: what the bot would write, and why.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ChatbotAnswer)]
pub struct AskJson {
    /// Whether the bot is enabled (when it is not, it writes nothing at all in conversations).
    enabled: bool,
    /// `answer`, `handoff` or `fallback`.
    #[schema(value_type = BotOutcome)]
    outcome: String,
    /// Whether the bot would hand the conversation to agents (`outcome` is `handoff`).
    would_hand_off: bool,
    /// The best-ranked published article matching any word of the question, even below the
    /// threshold; `null` when none matches.
    article: Option<ArticleRef>,
    /// That article's 0-1 score.
    score: Option<f64>,
    /// The threshold the score is compared with (`answer` when `score >= threshold`).
    threshold: f64,
    /// The text the bot would write.
    reply: String,
}

/// `POST /v1/chatbot/ask` (every role; writes nothing; limited per organization:
/// [`crate::throttle::OrgThrottle`], 429 `rate_limited` with `Retry-After`).
pub async fn ask(
    state: web::Data<AppState>,
    caller: Caller,
    body: crate::extract::Json<AskBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let question = f.required("question", body.question.as_deref(), MessageBody::parse);
    let question = f.finish_with(question)?;
    let mut tx = caller.begin(&state).await?;
    let settings = SettingsJson::of(db::read(&mut tx).await?);
    // After the credential's check (the first statement), before the search: a refused
    // credential is 401 or 403, never 429, and the budget spent is the verified organization's.
    let org = tx.org_id().ok_or_else(|| {
        palisade_db::DbError::Decode(
            "the organization is not known after the first statement".into(),
        )
    })?;
    state.throttles.chatbot_ask.check(org)?;
    let reply = db::reply(
        &mut tx,
        &question,
        settings.confidence_threshold,
        &settings.fallback_text,
        &settings.handoff_message,
    )
    .await?;
    tx.commit().await?;
    let article = reply
        .article_id
        .zip(reply.article_title)
        .map(|(id, title)| ArticleRef { id, title });
    Ok(HttpResponse::Ok().json(AskJson {
        enabled: settings.enabled,
        would_hand_off: reply.outcome == BotOutcome::Handoff.as_str(),
        outcome: reply.outcome,
        article,
        score: reply.score,
        threshold: settings.confidence_threshold,
        reply: reply.reply,
    }))
}
