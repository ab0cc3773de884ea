//! Liveness and readiness.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::{ApiError, AppState};

/// `GET /healthz`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Health)]
pub struct HealthJson {
    /// Always `ok`.
    status: &'static str,
}

/// `GET /readyz`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Readiness)]
pub struct ReadyJson {
    /// Always `ready`.
    status: &'static str,
    pool: PoolJson,
}

/// The database connection pool.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PoolStatus)]
pub struct PoolJson {
    /// Open connections.
    size: usize,
    /// Of which idle.
    idle: usize,
}

/// `GET /healthz`: the process is up. Touches nothing else.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthJson { status: "ok" })
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
        // Logged once, as the 500's cause (`request failed`).
        return Err(ApiError::internal(
            "an idle pooled connection still carries a tenant context",
        ));
    }
    let pool = state.pool.status();
    Ok(HttpResponse::Ok().json(ReadyJson {
        status: "ready",
        pool: PoolJson {
            size: pool.size,
            idle: pool.idle,
        },
    }))
}
