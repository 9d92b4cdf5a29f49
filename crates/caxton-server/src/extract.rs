//! Request bodies with the front door's rules: the right content type
//! (415), at most `max_body_bytes` (413), well-formed with no unknown
//! fields (400); every refusal a JSON error naming the problem.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body (`application/json`) parsed into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// An `application/octet-stream` body.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

/// An `application/wasm` body.
#[derive(Debug)]
pub struct WasmBody(pub Bytes);

/// Refuses a request whose `Content-Type` is not `want` (parameters such
/// as `charset` are ignored).
pub fn require_content_type(headers: &HeaderMap, want: &str) -> Result<(), ApiError> {
    let got = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let mime = got.map(|v| v.split(';').next().unwrap_or("").trim());
    if mime.is_some_and(|m| m.eq_ignore_ascii_case(want)) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        match got {
            Some(g) => format!("Content-Type {g:?} is not accepted here; send {want}"),
            None => format!("no Content-Type; send {want}"),
        },
    ))
}

/// Reads the whole body, refusing one over `limit` bytes (by its
/// `Content-Length` before reading, or while reading).
pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(ApiError::too_large(limit)),
        Err(e) => Err(ApiError::bad_request(
            "bad_request",
            format!("could not read the request body: {e}"),
        )),
    }
}

/// Parses JSON, naming the problem (unknown field, wrong type, syntax)
/// with its position.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")))
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        require_content_type(req.headers(), "application/json")?;
        let bytes = read_body(req, state.config.max_body_bytes).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        require_content_type(req.headers(), "application/octet-stream")?;
        read_body(req, state.config.max_body_bytes).await.map(RawBody)
    }
}

impl FromRequest<AppState> for WasmBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        require_content_type(req.headers(), "application/wasm")?;
        read_body(req, state.config.max_body_bytes).await.map(WasmBody)
    }
}
