//! Where the load goes: a parsed URL, held to loopback unless told otherwise.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use crate::error::LoadError;

/// Caxton's raw request route to the first echo agent: the path used when a
/// URL gives none in `http` mode.
pub const DEFAULT_HTTP_PATH: &str = "/v1/raw/request/name:echo-0";
/// Caxton's WebSocket session route with the first echo agent as the
/// default target: the path used when a URL gives none in `ws` mode.
pub const DEFAULT_WS_PATH: &str = "/v1/ws?to=name:echo-0";

/// A resolved target.
#[derive(Clone, Debug)]
pub struct Target {
    /// The URL as it will be requested (with the default path filled in).
    pub url: String,
    /// Host as written in the URL (for the `Host` header).
    pub authority: String,
    /// Path and query sent in the request line.
    pub path_and_query: String,
    /// The socket address connected to.
    pub addr: SocketAddr,
}

impl Target {
    /// Parses `url` for `mode` (`http://` for HTTP, `ws://` for WebSocket;
    /// TLS is not supported) and resolves it. A URL without a path (or with
    /// just `/`) gets Caxton's default route for the mode. Anything not on
    /// a loopback address is refused unless `allow_remote`: the generator
    /// is a local benchmarking tool, not a way to load someone's server.
    pub fn parse(url: &str, mode: Mode, allow_remote: bool) -> Result<Self, LoadError> {
        let bad = |why: String| LoadError::BadArgs(format!("invalid --url {url:?}: {why}"));
        let uri: hyper::Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
        let expected = match mode {
            Mode::Http => "http",
            Mode::Ws => "ws",
        };
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| bad(format!("no scheme, expected {expected}://")))?;
        if scheme != expected {
            return Err(bad(format!(
                "scheme {scheme}:// does not fit {expected} mode (expected {expected}://; TLS is not supported)"
            )));
        }
        let host = uri.host().ok_or_else(|| bad("no host".to_owned()))?;
        let port = uri.port_u16().unwrap_or(80);
        let default_path = match mode {
            Mode::Http => DEFAULT_HTTP_PATH,
            Mode::Ws => DEFAULT_WS_PATH,
        };
        let path_and_query = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("") | Some("/") => default_path.to_owned(),
            Some(p) => p.to_owned(),
        };
        let addr = resolve(host, port, allow_remote)?;
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|| format!("{host}:{port}"));
        Ok(Self {
            url: format!("{scheme}://{authority}{path_and_query}"),
            authority,
            path_and_query,
            addr,
        })
    }
}

/// Resolves `host`: IP literals and `localhost` directly, other names only
/// when remote targets are allowed.
fn resolve(host: &str, port: u16, allow_remote: bool) -> Result<SocketAddr, LoadError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if let Ok(ip) = literal.parse::<IpAddr>() {
        ip
    } else if literal.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else if allow_remote {
        return (literal, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| LoadError::Unreachable(format!("cannot resolve host {literal:?}")));
    } else {
        return Err(refused(literal));
    };
    if !ip.is_loopback() && !allow_remote {
        return Err(refused(literal));
    }
    Ok(SocketAddr::new(ip, port))
}

fn refused(host: &str) -> LoadError {
    LoadError::BadArgs(format!(
        "refusing non-loopback target {host:?}: caxton-load only drives servers on 127.0.0.1 / ::1 / localhost \
         (pass --allow-remote to load a remote host you are responsible for)"
    ))
}

/// What is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// POST over HTTP/1.1 keep-alive connections.
    Http,
    /// Binary request frames over WebSocket sessions.
    Ws,
}

impl Mode {
    /// `http` or `ws`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Http => "http",
            Mode::Ws => "ws",
        }
    }
}
