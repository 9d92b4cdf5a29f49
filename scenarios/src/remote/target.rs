//! The `--target` URL: a front door on this machine.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A running front door to drive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `http://ADDR`, as recorded in the result.
    pub url: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Parses `http://HOST:PORT` (a trailing `/` allowed), where HOST is a
/// loopback address or `localhost`: load only ever targets this machine.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let bad = || {
        format!(
            "invalid --target {text:?}: expected http://HOST:PORT with a loopback HOST (e.g. http://127.0.0.1:8080)"
        )
    };
    let rest = text
        .strip_prefix("http://")
        .ok_or_else(|| format!("{}; TLS and other schemes are not supported", bad()))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') {
        return Err(format!("{}; a path is not allowed", bad()));
    }
    let addr = match authority.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
            let port: u16 = port.parse().map_err(|_| bad())?;
            if !host.eq_ignore_ascii_case("localhost") {
                return Err(refused(host));
            }
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        }
    };
    if !addr.ip().is_loopback() {
        return Err(refused(&addr.ip().to_string()));
    }
    if addr.port() == 0 {
        return Err(format!("{}; port 0", bad()));
    }
    Ok(Target {
        url: format!("http://{addr}"),
        addr,
    })
}

fn refused(host: &str) -> String {
    format!(
        "refusing --target host {host:?}: not a loopback address; the scenarios only drive a server on \
         this machine (127.0.0.1, ::1 or localhost)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_only() {
        assert_eq!(parse_target("http://127.0.0.1:8080").unwrap().addr.port(), 8080);
        assert_eq!(parse_target("http://localhost:9/").unwrap().url, "http://127.0.0.1:9");
        assert!(parse_target("http://[::1]:80").unwrap().addr.ip().is_loopback());
        for remote in ["http://10.0.0.1:80", "http://example.com:80", "http://[2001:db8::1]:80"] {
            let e = parse_target(remote).unwrap_err();
            assert!(e.contains("loopback"), "{remote}: {e}");
        }
        for bad in [
            "127.0.0.1:80",
            "https://127.0.0.1:80",
            "http://127.0.0.1",
            "http://127.0.0.1:80/v1",
        ] {
            assert!(parse_target(bad).unwrap_err().contains("http://HOST:PORT"), "{bad}");
        }
    }
}
