//! HTTP mode: POST a payload over keep-alive HTTP/1.1 connections, each
//! its own hyper client connection on tokio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::pace::TickSource;
use crate::record::{ErrorKind, Recorder};
use crate::target::Target;

/// What every HTTP request of a run looks like.
pub struct HttpRequestSpec {
    /// Where to.
    pub target: Target,
    /// The body, shared (cloning `Bytes` copies nothing).
    pub payload: Bytes,
    /// The `Content-Type` header.
    pub content_type: HeaderValue,
    /// Further headers (`--header K:V`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Per-request limit from the intended send time: queueing, connect,
    /// request and reply.
    pub timeout: Duration,
    /// Open a connection for every request instead of keeping it alive.
    pub new_connection_per_request: bool,
}

/// Opens one HTTP/1.1 connection to `addr`; its driver runs as a task.
pub async fn connect(addr: std::net::SocketAddr) -> Result<SendRequest<Full<Bytes>>, ErrorKind> {
    let tcp = TcpStream::connect(addr).await.map_err(|_| ErrorKind::Connect)?;
    let _ = tcp.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|_| ErrorKind::Connect)?;
    tokio::spawn(async move {
        // Ends when the connection closes; its errors show in the requests.
        let _ = conn.await;
    });
    Ok(sender)
}

/// One connection's loop: takes requests from `source` until the run ends,
/// reconnecting after a failed connection, and records every outcome.
pub async fn worker(spec: Arc<HttpRequestSpec>, source: Arc<TickSource>, rec: Arc<Recorder>) {
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    let closed_loop = matches!(*source, TickSource::Closed(..));
    while let Some(tick) = source.next().await {
        // The timeout counts from the intended send time, like the latency:
        // a request that queued for longer than it is not sent at all.
        let deadline = tick.intended + spec.timeout;
        let queued_out = Instant::now() >= deadline;
        let outcome = if queued_out {
            Err(ErrorKind::Timeout)
        } else {
            tokio::time::timeout_at(deadline.into(), request(&spec, &mut conn))
                .await
                .unwrap_or(Err(ErrorKind::Timeout))
        };
        let done = Instant::now();
        match &outcome {
            // A status error leaves the connection usable, and a request
            // timed out in the queue never touched it; nothing else does.
            Ok(_) | Err(ErrorKind::Status(_)) => {}
            Err(ErrorKind::Timeout) if queued_out => {}
            Err(_) => conn = None,
        }
        if spec.new_connection_per_request {
            conn = None;
        }
        if tick.record {
            match outcome {
                Ok(bytes) => rec.ok(tick.intended, done, bytes),
                Err(kind) => rec.error(kind, done),
            }
        }
        if closed_loop && conn.is_none() && !spec.new_connection_per_request {
            // A closed loop against a refusing target would spin; breathe.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Sends one request on `conn` (connecting first when there is none) and
/// reads the whole reply; the reply body's length on a 2xx.
async fn request(spec: &HttpRequestSpec, conn: &mut Option<SendRequest<Full<Bytes>>>) -> Result<usize, ErrorKind> {
    let sender = match conn {
        Some(s) if !s.is_closed() => s,
        _ => conn.insert(connect(spec.target.addr).await?),
    };
    sender.ready().await.map_err(|_| ErrorKind::Io)?;
    let mut req = hyper::Request::post(spec.target.path_and_query.as_str())
        .header(HOST, spec.target.authority.as_str())
        .header(CONTENT_TYPE, spec.content_type.clone())
        .body(Full::new(spec.payload.clone()))
        .map_err(|_| ErrorKind::Protocol)?;
    for (k, v) in &spec.headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    let resp = sender.send_request(req).await.map_err(|_| ErrorKind::Io)?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|_| ErrorKind::Io)?;
    if status.is_success() {
        Ok(body.to_bytes().len())
    } else {
        Err(ErrorKind::Status(status.as_u16()))
    }
}
