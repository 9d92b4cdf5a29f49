//! The few setup calls a benchmark makes (spawn agents, scrape metrics):
//! one HTTP/1.1 request per connection over std's TcpStream, so the setup
//! path shares nothing with what is measured.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::NetbenchError;

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Response, NetbenchError> {
    call_within(addr, method, path, content_type, body, Duration::from_secs(60))
}

/// [`call`] giving up when connecting or any read takes longer than `timeout`.
pub fn call_within(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, NetbenchError> {
    let what = format!("{method} {path}");
    let fail = |why: String| NetbenchError::Setup {
        what: what.clone(),
        why,
    };
    let mut s =
        TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(5))).map_err(|e| fail(e.to_string()))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| fail(e.to_string()))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).map_err(|e| fail(e.to_string()))?;
    s.write_all(body).map_err(|e| fail(e.to_string()))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| fail(e.to_string()))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| fail("no end of headers in the response".into()))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fail(format!("bad status line {:?}", head.lines().next())))?;
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let rest = &raw[split + 4..];
    let body = if chunked { dechunk(rest) } else { rest.to_vec() };
    Ok(Response { status, body })
}

/// Decodes a chunked body.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// POSTs JSON and expects `want`; the body as JSON.
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    json: &serde_json::Value,
    want: u16,
) -> Result<serde_json::Value, NetbenchError> {
    let r = call(
        addr,
        "POST",
        path,
        Some("application/json"),
        json.to_string().as_bytes(),
    )?;
    if r.status != want {
        return Err(NetbenchError::Setup {
            what: format!("POST {path}"),
            why: format!(
                "status {} (wanted {want}): {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
        });
    }
    serde_json::from_slice(&r.body).map_err(|e| NetbenchError::Setup {
        what: format!("POST {path}"),
        why: format!("the answer is not JSON: {e}"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(super::dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }
}
