//! Every failure as a status code that means something and a JSON body
//! `{"error": ..., "kind": ...}` that names the problem.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use caxton_cluster::{ClusterError, NodeError, RemoteError};
use caxton_runtime::{RequestError, SendErrorKind, SpawnError};
use caxton_wasm::LoadError;
use serde::Serialize;

/// An API error: status, machine-readable kind and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What kind of failure (`mailbox_full`, `unknown_agent`, ...).
    pub kind: &'static str,
    /// What went wrong, naming the problem.
    pub message: String,
    /// Seconds to wait before retrying (sent as `Retry-After`).
    pub retry_after: Option<u32>,
}

/// The JSON body of an error.
#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    kind: &'a str,
}

impl ApiError {
    /// An error with this status and kind.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            kind,
            message: message.into().into_owned(),
            retry_after: None,
        }
    }

    /// 400 with `kind`.
    pub fn bad_request(kind: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, message)
    }

    /// 404 for a path no route serves.
    pub fn not_found(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no route serves {path}"))
    }

    /// 413: a body over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body is over the {limit}-byte limit"),
        )
    }

    /// 503 while draining.
    pub fn shutting_down() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down and accepts no new work",
        )
    }

    /// The JSON body alone (WebSocket error frames reuse it).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.message, "kind": self.kind })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Body {
            error: &self.message,
            kind: self.kind,
        })
        .unwrap_or_default();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<&SendErrorKind> for ApiError {
    fn from(kind: &SendErrorKind) -> Self {
        let message = kind.to_string();
        match kind {
            SendErrorKind::UnknownAgent(_) => Self::new(StatusCode::NOT_FOUND, "unknown_agent", message),
            SendErrorKind::AgentStopped(_) => Self::new(StatusCode::NOT_FOUND, "agent_stopped", message),
            SendErrorKind::NoCapableAgent(_) => Self::new(StatusCode::NOT_FOUND, "no_capable_agent", message),
            SendErrorKind::MailboxFull { .. } => Self {
                retry_after: Some(1),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, "mailbox_full", message)
            },
            SendErrorKind::NoReplyTarget => Self::bad_request("bad_request", message),
            SendErrorKind::ShuttingDown => Self::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", message),
            SendErrorKind::MessageTooLarge { .. } => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Send(e) => Self::from(e.kind()),
            RequestError::Timeout { .. } => Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", e.to_string()),
            RequestError::NoReply(_) => Self::new(StatusCode::BAD_GATEWAY, "no_reply", e.to_string()),
            RequestError::Failed { .. } => Self::new(StatusCode::BAD_GATEWAY, "agent_failed", e.to_string()),
        }
    }
}

impl From<SpawnError> for ApiError {
    fn from(e: SpawnError) -> Self {
        match e {
            SpawnError::DuplicateName(_) => Self::new(StatusCode::CONFLICT, "duplicate_name", e.to_string()),
            SpawnError::ShuttingDown => Self::shutting_down(),
            _ => Self::bad_request("spawn_failed", e.to_string()),
        }
    }
}

impl From<LoadError> for ApiError {
    fn from(e: LoadError) -> Self {
        Self::bad_request("invalid_module", format!("the module failed to load: {e}"))
    }
}

impl From<RemoteError> for ApiError {
    /// The hosting node's error frame, with the status the same failure
    /// has on a single node.
    fn from(e: RemoteError) -> Self {
        let message = format!("remote: {e}");
        match e {
            RemoteError::UnknownAgent { .. } => Self::new(StatusCode::NOT_FOUND, "unknown_agent", message),
            RemoteError::AgentStopped { .. } => Self::new(StatusCode::NOT_FOUND, "agent_stopped", message),
            RemoteError::NoCapableAgent { .. } => Self::new(StatusCode::NOT_FOUND, "no_capable_agent", message),
            RemoteError::MailboxFull { .. } => Self {
                retry_after: Some(1),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, "mailbox_full", message)
            },
            RemoteError::MessageTooLarge { .. } => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message),
            RemoteError::ShuttingDown => Self::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", message),
            RemoteError::Timeout { .. } => Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", message),
            RemoteError::NoReply { .. } => Self::new(StatusCode::BAD_GATEWAY, "no_reply", message),
            RemoteError::Failed { .. } => Self::new(StatusCode::BAD_GATEWAY, "agent_failed", message),
            RemoteError::NoReplyTarget => Self::bad_request("bad_request", message),
            RemoteError::Malformed { .. } => Self::new(StatusCode::BAD_GATEWAY, "remote_failed", message),
        }
    }
}

impl From<ClusterError> for ApiError {
    /// A send, request or broadcast through the node: the local path's
    /// errors as on a single node, the remote ones by what they mean.
    fn from(e: ClusterError) -> Self {
        let message = e.to_string();
        match e {
            ClusterError::Local(s) => Self::from(s.kind()),
            ClusterError::LocalRequest(r) => Self::from(r),
            ClusterError::Remote(r) => Self::from(r),
            ClusterError::NoResponders { .. } => Self::new(StatusCode::NOT_FOUND, "unknown_agent", message),
            ClusterError::Timeout { .. } => Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", message),
            ClusterError::Disconnected { .. } => Self {
                retry_after: Some(1),
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "cluster_disconnected", message)
            },
            ClusterError::Transport { .. } | ClusterError::Wire(_) => {
                Self::new(StatusCode::BAD_GATEWAY, "remote_failed", message)
            }
            ClusterError::Name(_) => Self::bad_request("invalid_address", message),
            ClusterError::NotDurable { .. } => Self::new(StatusCode::NOT_FOUND, "not_durable", message),
            ClusterError::NotAcknowledged { .. } => Self {
                retry_after: Some(1),
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_acknowledged", message)
            },
        }
    }
}

impl From<NodeError> for ApiError {
    /// A spawn or stop through the node.
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Spawn(s) => Self::from(s),
            NodeError::Stop(kind) => Self::from(&kind),
            NodeError::Name(_) => Self::bad_request("bad_request", e.to_string()),
            NodeError::DuplicateAgentName { .. } => Self::new(StatusCode::CONFLICT, "duplicate_name", e.to_string()),
            _ => Self::new(StatusCode::BAD_GATEWAY, "cluster_failed", e.to_string()),
        }
    }
}
