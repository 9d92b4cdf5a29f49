//! WebSocket mode: many sessions held open, each carrying binary request
//! frames (an 8-byte little-endian ref, then the payload) answered by
//! binary frames with the same ref, or by a text `error` frame with it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt, stream};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::pace::{Tick, Window, closed_tick};
use crate::record::{ErrorKind, Recorder};
use crate::target::Target;

/// An open client session.
pub type Session = WebSocketStream<TcpStream>;

/// Opens a session: TCP connect, WebSocket upgrade, then waits for the
/// server's first text frame, which must be `{"type":"welcome",...}`.
pub async fn open_session(target: &Target, timeout: Duration) -> Result<Session, String> {
    let open = async {
        let tcp = TcpStream::connect(target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", target.addr))?;
        let _ = tcp.set_nodelay(true);
        let (mut ws, _) = tokio_tungstenite::client_async(target.url.as_str(), tcp)
            .await
            .map_err(|e| format!("upgrade {}: {e}", target.url))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let v: serde_json::Value =
                        serde_json::from_str(text.as_str()).map_err(|e| format!("first frame is not JSON: {e}"))?;
                    if v["type"] == "welcome" {
                        return Ok(ws);
                    }
                    return Err(format!("first frame is not a welcome: {text}"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => return Err(format!("first frame is not a welcome: {other:?}")),
                Some(Err(e)) => return Err(format!("before the welcome: {e}")),
                None => return Err("closed before the welcome".to_owned()),
            }
        }
    };
    tokio::time::timeout(timeout, open)
        .await
        .unwrap_or_else(|_| Err(format!("no welcome within {timeout:?}")))
}

/// Opens `count` sessions, at most `concurrency` handshakes at a time so
/// the server's accept queue is not overrun. Returns the open sessions
/// and the reasons of those that failed.
pub async fn open_sessions(
    target: &Target,
    count: usize,
    concurrency: usize,
    timeout: Duration,
) -> (Vec<Session>, Vec<String>) {
    let results: Vec<_> = stream::iter(0..count)
        .map(|_| open_session(target, timeout))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut open = Vec::with_capacity(count);
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(s) => open.push(s),
            Err(e) => failed.push(e),
        }
    }
    (open, failed)
}

/// Where a session's requests come from.
pub enum Feed {
    /// Open loop: ticks the dispatcher hands this session.
    Open(mpsc::Receiver<Tick>),
    /// Closed loop: one request at a time, the next as soon as the last
    /// reply came, until the window ends.
    Closed(Window),
}

/// Hands the pacer's ticks to sessions round-robin, skipping sessions
/// whose queue is full and forgetting those that closed; waits on one only
/// when all are full. A tick no session can take is a `closed` error.
pub async fn dispatch(mut rx: mpsc::Receiver<Tick>, mut sessions: Vec<mpsc::Sender<Tick>>, rec: Arc<Recorder>) {
    let mut next = 0usize;
    while let Some(tick) = rx.recv().await {
        if let Some(tick) = hand_over(tick, &mut sessions, &mut next).await
            && tick.record
        {
            rec.error(ErrorKind::Closed, Instant::now());
        }
    }
}

/// Gives `tick` to a session; gives it back when every session closed.
async fn hand_over(mut tick: Tick, sessions: &mut Vec<mpsc::Sender<Tick>>, next: &mut usize) -> Option<Tick> {
    let mut tried = 0;
    while !sessions.is_empty() && tried < sessions.len() {
        let i = *next % sessions.len();
        match sessions[i].try_send(tick) {
            Ok(()) => {
                *next = i + 1;
                return None;
            }
            Err(mpsc::error::TrySendError::Full(t)) => {
                tick = t;
                *next = i + 1;
                tried += 1;
            }
            Err(mpsc::error::TrySendError::Closed(t)) => {
                tick = t;
                sessions.swap_remove(i);
            }
        }
    }
    // Every open session's queue is full: wait on the next one.
    while !sessions.is_empty() {
        let i = *next % sessions.len();
        match sessions[i].send(tick).await {
            Ok(()) => {
                *next = i + 1;
                return None;
            }
            Err(mpsc::error::SendError(t)) => {
                tick = t;
                sessions.swap_remove(i);
            }
        }
    }
    Some(tick)
}

struct Pending {
    tick: Tick,
}

/// Runs one session until its feed ends and its last request is answered
/// or timed out; records every outcome. True when the session stayed open
/// the whole time (the server never closed it, no send failed).
pub async fn run_session(
    session: Session,
    mut feed: Feed,
    rec: Arc<Recorder>,
    payload: Bytes,
    timeout: Duration,
) -> bool {
    let (mut sink, mut stream) = session.split();
    let pending: Mutex<BTreeMap<u64, Pending>> = Mutex::new(BTreeMap::new());
    let lock = || pending.lock().unwrap_or_else(|e| e.into_inner());
    let wake = Notify::new();
    let writer_done = AtomicBool::new(false);
    let closed = AtomicBool::new(false);
    // Closed loop: one request in flight; the reader hands the slot back.
    let slot = Semaphore::new(1);

    let record_err = |p: Pending, kind: ErrorKind| {
        if p.tick.record {
            rec.error(kind, Instant::now());
        }
    };

    let writer = async {
        if let Feed::Closed(window) = &feed {
            // Spawning thousands of sessions takes a while; all start at once.
            tokio::time::sleep_until(window.start.into()).await;
        }
        let mut next_ref = 0u64;
        loop {
            let tick = match &mut feed {
                Feed::Open(rx) => rx.recv().await,
                Feed::Closed(window) => match slot.acquire().await {
                    Ok(permit) => {
                        permit.forget();
                        if closed.load(Ordering::Acquire) {
                            None
                        } else {
                            closed_tick(window, &rec)
                        }
                    }
                    Err(_) => None,
                },
            };
            let Some(tick) = tick else { break };
            if closed.load(Ordering::Acquire) {
                if let Feed::Open(rx) = &mut feed {
                    rx.close();
                }
                record_err(Pending { tick }, ErrorKind::Closed);
                continue;
            }
            if Instant::now() >= tick.intended + timeout {
                // Queued past its timeout (counted from the intended send
                // time, like the latency): not sent at all.
                record_err(Pending { tick }, ErrorKind::Timeout);
                slot.add_permits(1);
                continue;
            }
            let r = next_ref;
            next_ref += 1;
            let mut frame = BytesMut::with_capacity(8 + payload.len());
            frame.put_u64_le(r);
            frame.put_slice(&payload);
            {
                let mut p = lock();
                let was_empty = p.is_empty();
                p.insert(r, Pending { tick });
                if was_empty {
                    wake.notify_one();
                }
            }
            let sent = tokio::time::timeout(timeout, sink.send(Message::Binary(frame.freeze()))).await;
            if !matches!(sent, Ok(Ok(()))) {
                closed.store(true, Ordering::Release);
                if let Some(p) = lock().remove(&r) {
                    // A send that fails means the session is gone.
                    let kind = if sent.is_err() {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Closed
                    };
                    record_err(p, kind);
                }
                slot.close();
                wake.notify_one();
            }
        }
        writer_done.store(true, Ordering::Release);
        wake.notify_one();
    };

    let reader = async {
        let far = Duration::from_secs(86_400);
        loop {
            let deadline = {
                let p = lock();
                if p.is_empty() && (writer_done.load(Ordering::Acquire) || closed.load(Ordering::Acquire)) {
                    break;
                }
                p.values().next().map(|e| e.tick.intended + timeout)
            };
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(Ok(Message::Binary(b))) => {
                        if b.len() >= 8 {
                            let r = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
                            if let Some(p) = lock().remove(&r) {
                                if p.tick.record {
                                    rec.ok(p.tick.intended, Instant::now(), b.len() - 8);
                                }
                                slot.add_permits(1);
                            }
                        }
                    }
                    Some(Ok(Message::Text(text))) => {
                        let Ok(v) = serde_json::from_str::<serde_json::Value>(text.as_str()) else { continue };
                        if v["type"] != "error" {
                            continue;
                        }
                        let Some(r) = v["ref"].as_u64() else { continue };
                        if let Some(p) = lock().remove(&r) {
                            let kind = v["kind"].as_str().unwrap_or("error").to_owned();
                            record_err(p, ErrorKind::Server(kind));
                            slot.add_permits(1);
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        closed.store(true, Ordering::Release);
                        slot.close();
                        break;
                    }
                    Some(Ok(_)) => {}
                },
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(|| Instant::now() + far).into()), if deadline.is_some() => {
                    let now = Instant::now();
                    let mut p = lock();
                    let expired: Vec<u64> = p
                        .iter()
                        .take_while(|(_, e)| e.tick.intended + timeout <= now)
                        .map(|(r, _)| *r)
                        .collect();
                    for r in expired {
                        if let Some(e) = p.remove(&r) {
                            record_err(e, ErrorKind::Timeout);
                            slot.add_permits(1);
                        }
                    }
                }
                _ = wake.notified() => {}
            }
        }
    };

    tokio::join!(writer, reader);
    // Whatever is still pending lost its session (or raced its close).
    let left: Vec<Pending> = std::mem::take(&mut *lock()).into_values().collect();
    for p in left {
        record_err(p, ErrorKind::Closed);
    }
    let stayed_open = !closed.load(Ordering::Acquire);
    if stayed_open && let Ok(mut ws) = sink.reunite(stream) {
        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    }
    stayed_open
}
