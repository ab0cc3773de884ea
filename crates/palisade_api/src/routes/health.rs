//! Liveness and readiness.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{ApiError, AppState};

/// `GET /healthz`: the process is up. Touches nothing else.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers, and an idle pooled connection carries no tenant
/// context (if one ever did, the pool would be unsafe to serve from).
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let idle = state
        .pool
        .idle_context()
        .await
        .map_err(ApiError::Unavailable)?;
    if idle.iter().any(|s| !s.is_empty()) {
        tracing::error!("an idle pooled connection still carries a tenant context");
        return Err(ApiError::internal("tenant context leaked into the pool"));
    }
    let (size, idle_conns) = state.pool.status();
    Ok(HttpResponse::Ok()
        .json(json!({"status": "ready", "pool": {"size": size, "idle": idle_conns}})))
}
