//! The server's settings: defaults, an optional TOML file, and the
//! command-line flags that override both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Every setting of a server. `Default` is what `caxton-server` runs with
/// when given no flags.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (loopback by default).
    pub listen: SocketAddr,
    /// A file holding the bearer token the mutating routes require.
    pub token_file: Option<PathBuf>,
    /// Largest request body (and WebSocket message), bytes.
    pub max_body_bytes: usize,
    /// Most HTTP connections served at once; more get 503 and are closed.
    pub max_connections: usize,
    /// Most WebSocket sessions open at once; more get 503.
    pub max_sessions: usize,
    /// A client must send a request's headers within this time (hyper
    /// runs the same timer while a keep-alive connection is idle, so it is
    /// also the keep-alive idle timeout).
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    /// How long a shutdown waits for requests and agents to drain.
    #[serde(deserialize_with = "duration")]
    pub drain_timeout: Duration,
    /// Request timeout when a request names none.
    #[serde(deserialize_with = "duration")]
    pub default_request_timeout: Duration,
    /// The longest request timeout a client may ask for.
    #[serde(deserialize_with = "duration")]
    pub max_request_timeout: Duration,
    /// Most live agents.
    pub max_agents: usize,
    /// Most agents one spawn call may create.
    pub max_spawn_batch: usize,
    /// Most WASM modules kept.
    pub max_modules: usize,
    /// Mailbox capacity of agents spawned without one.
    pub mailbox_capacity: usize,
    /// Requests a WebSocket session may have in flight; the server stops
    /// reading the session's socket while at it.
    pub ws_max_in_flight: usize,
    /// Frames queued for a WebSocket client; a client that lets the queue
    /// fill is closed (1008).
    pub ws_outbox_frames: usize,
    /// How long one write to a WebSocket client may block.
    #[serde(deserialize_with = "duration")]
    pub ws_write_timeout: Duration,
    /// Worker threads of the server's tokio runtime (0: one per core).
    pub workers: usize,
    /// NATS URL of the lattice this server joins as a node (with `node`).
    pub cluster: Option<String>,
    /// This server's node name in the lattice (with `cluster`).
    pub node: Option<String>,
    /// The lattice joined (`default` unless set).
    pub lattice: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token_file: None,
            max_body_bytes: 2 << 20,
            max_connections: 4096,
            max_sessions: 20_000,
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(10),
            default_request_timeout: Duration::from_secs(5),
            max_request_timeout: Duration::from_secs(60),
            max_agents: 200_000,
            max_spawn_batch: 10_000,
            max_modules: 64,
            mailbox_capacity: 1024,
            ws_max_in_flight: 64,
            ws_outbox_frames: 256,
            ws_write_timeout: Duration::from_secs(10),
            workers: 0,
            cluster: None,
            node: None,
            lattice: "default".into(),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause, with line and column.
        source: Box<toml::de::Error>,
    },
    /// A setting has a value that cannot work.
    #[error("invalid setting {name}: {why}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// Why.
        why: String,
    },
    /// The token file is unusable.
    #[error("token file {path}: {why}")]
    Token {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

impl ServerConfig {
    /// Reads settings from a TOML file (absent keys keep their defaults).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Refuses settings that cannot work (zero limits, an inverted timeout
    /// range).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.cluster, &self.node) {
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    name: "cluster",
                    why: "--cluster URL needs --node NAME too (this server's name in the lattice)".into(),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "node",
                    why: "--node NAME needs --cluster URL too (the NATS server of the lattice)".into(),
                });
            }
            _ => {}
        }
        let positive: [(&'static str, usize); 9] = [
            ("max_body_bytes", self.max_body_bytes),
            ("max_connections", self.max_connections),
            ("max_sessions", self.max_sessions),
            ("max_agents", self.max_agents),
            ("max_spawn_batch", self.max_spawn_batch),
            ("max_modules", self.max_modules),
            ("mailbox_capacity", self.mailbox_capacity),
            ("ws_max_in_flight", self.ws_max_in_flight),
            ("ws_outbox_frames", self.ws_outbox_frames),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    why: "must be at least 1".into(),
                });
            }
        }
        let timeouts: [(&'static str, Duration); 5] = [
            ("header_read_timeout", self.header_read_timeout),
            ("default_request_timeout", self.default_request_timeout),
            ("max_request_timeout", self.max_request_timeout),
            ("ws_write_timeout", self.ws_write_timeout),
            ("drain_timeout", self.drain_timeout),
        ];
        for (name, d) in timeouts {
            if d.is_zero() && name != "drain_timeout" {
                return Err(ConfigError::Invalid {
                    name,
                    why: "must be longer than zero".into(),
                });
            }
            if d > Duration::from_secs(24 * 3600) {
                return Err(ConfigError::Invalid {
                    name,
                    why: format!("{} is over a day", humantime::format_duration(d)),
                });
            }
        }
        if self.default_request_timeout > self.max_request_timeout {
            return Err(ConfigError::Invalid {
                name: "default_request_timeout",
                why: "is longer than max_request_timeout".into(),
            });
        }
        Ok(())
    }

    /// Reads the bearer token from `token_file`, if set: one line, not
    /// empty, from a file others cannot read.
    pub fn token(&self) -> Result<Option<String>, ConfigError> {
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let err = |why: String| ConfigError::Token {
            path: path.clone(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(err("is empty".into()));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(
                "holds whitespace or control characters; write the token on one line".into(),
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path)
                .map_err(|e| err(e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "is readable or writable by group or others (mode {:o}); chmod 600 it",
                    mode & 0o777
                )));
            }
        }
        Ok(Some(token.to_owned()))
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let c = ServerConfig::default();
        c.validate().unwrap();
        assert!(c.listen.ip().is_loopback());
    }

    #[test]
    fn toml_overrides_and_refuses_unknown_keys() {
        let c: ServerConfig = toml::from_str("max_connections = 3\nheader_read_timeout = \"250ms\"").unwrap();
        assert_eq!(c.max_connections, 3);
        assert_eq!(c.header_read_timeout, Duration::from_millis(250));
        let e = toml::from_str::<ServerConfig>("max_conections = 3").unwrap_err();
        assert!(e.to_string().contains("max_conections"), "{e}");
    }

    #[test]
    fn zero_limits_are_refused_by_name() {
        let c = ServerConfig {
            ws_outbox_frames: 0,
            ..ServerConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("ws_outbox_frames"));
    }
}
