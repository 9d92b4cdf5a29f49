//! The router: every route of docs/server-api.md, the auth and drain gate,
//! and the per-route HTTP metrics.

mod agents;
mod health;
mod messages;
mod modules;

pub use agents::FrontDoorRespawner;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::session;
use crate::state::AppState;

/// Every route pattern, the values of the HTTP metrics' `route` label.
const PATTERNS: [&str; 12] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/modules",
    "/v1/agents",
    "/v1/agents/{agent}",
    "/v1/messages",
    "/v1/requests",
    "/v1/broadcast",
    "/v1/raw/send/{to}",
    "/v1/raw/request/{to}",
    "/v1/ws",
];

/// The front door's router over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/v1/modules", post(modules::upload).get(modules::list))
        .route("/v1/agents", post(agents::spawn).get(agents::list))
        .route("/v1/agents/{agent}", get(agents::get_one).delete(agents::stop))
        .route("/v1/messages", post(messages::send))
        .route("/v1/requests", post(messages::request))
        .route("/v1/broadcast", post(messages::broadcast))
        .route("/v1/raw/send/{to}", post(messages::raw_send))
        .route("/v1/raw/request/{to}", post(messages::raw_request))
        .route("/v1/ws", get(session::upgrade))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
}

/// Every request passes here once: the gate (drain, token), then the
/// handler, then the HTTP metrics by route pattern, method and status.
/// (One middleware, not two: each layer costs a service clone per request.)
async fn front(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The pattern as a static label: no allocation per request, and no
    // path a client makes up can add a label value.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| PATTERNS.iter().find(|p| **p == m.as_str()).copied())
        .unwrap_or("unmatched");
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let start = std::time::Instant::now();
    let response = match gate(&state, &req) {
        Some(refused) => refused,
        None => next.run(req).await,
    };
    state
        .metrics
        .http_request(route, method, response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(req.uri().path())
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// Whether a request changes something (and needs the token).
fn is_mutating(req: &Request) -> bool {
    req.method() != Method::GET || req.uri().path() == "/v1/ws"
}

/// Compares without an early exit, so the time taken says nothing about
/// how much of the token was right.
fn same_token(given: &[u8], want: &[u8]) -> bool {
    let mut diff = given.len() ^ want.len();
    for (i, w) in want.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(!w) ^ w);
    }
    diff == 0
}

/// Refuses new work while draining (503, health and metrics excepted) and
/// mutating requests without the bearer token (401).
fn gate(state: &AppState, req: &Request) -> Option<Response> {
    let path = req.uri().path();
    let always_open = matches!(path, "/healthz" | "/readyz" | "/metrics");
    if state.is_draining() && !always_open {
        return Some(ApiError::shutting_down().into_response());
    }
    if let Some(token) = &state.token
        && is_mutating(req)
    {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same_token(g.as_bytes(), token.as_bytes())) {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                if given.is_some() {
                    "the bearer token is wrong"
                } else {
                    "this route needs `Authorization: Bearer <token>`"
                },
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return Some(response);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::same_token;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"secret", b"secret"));
        assert!(!same_token(b"secre", b"secret"));
        assert!(!same_token(b"secrets", b"secret"));
        assert!(!same_token(b"", b"secret"));
        assert!(!same_token(b"Secret", b"secret"));
    }
}
