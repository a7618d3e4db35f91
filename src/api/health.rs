//! Liveness, readiness and the Prometheus exposition.

use std::time::Duration;

use poem::web::Data;
use poem_openapi::{payload::Json, payload::PlainText, ApiResponse, Object, OpenApi};

use super::{AppState, Tags};

#[derive(Object)]
struct Health {
    status: String,
}

#[derive(Object)]
struct Readiness {
    status: String,
    postgres: String,
    redis: String,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// PostgreSQL and Redis answer.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// A dependency does not answer; the body names it.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

pub struct HealthApi;

#[OpenApi(tag = "Tags::Health")]
impl HealthApi {
    /// Liveness: the process answers.
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> Json<Health> {
        Json(Health {
            status: "ok".into(),
        })
    }

    /// Readiness: PostgreSQL and Redis both answer within 2 s.
    #[oai(path = "/ready", method = "get")]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        let limit = Duration::from_secs(2);
        let pg = tokio::time::timeout(limit, crate::db::ping(&state.pool)).await;
        let redis = tokio::time::timeout(limit, state.store.ping()).await;
        let word = |ok: bool| if ok { "ok" } else { "unavailable" }.to_string();
        let (pg_ok, redis_ok) = (matches!(pg, Ok(Ok(_))), matches!(redis, Ok(Ok(_))));
        let body = Readiness {
            status: word(pg_ok && redis_ok),
            postgres: word(pg_ok),
            redis: word(redis_ok),
        };
        if pg_ok && redis_ok {
            ReadyResponse::Ready(Json(body))
        } else {
            ReadyResponse::NotReady(Json(body))
        }
    }

    /// Prometheus text exposition.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self) -> PlainText<String> {
        PlainText(crate::metrics::handle().render())
    }
}
