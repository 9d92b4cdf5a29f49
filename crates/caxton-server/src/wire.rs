//! The JSON shapes of the API: addresses, payloads, performatives, and the
//! bodies of the message routes (docs/server-api.md).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use caxton_runtime::{Address, AgentId, Message, Performative};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ApiError;

/// Where a message goes: `{"id": 7}`, `{"name": "echo-1"}` or
/// `{"capability": "search"}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum To {
    /// One agent by id.
    Id(u64),
    /// One agent by its unique name.
    Name(String),
    /// One agent of a capability group.
    Capability(String),
}

impl To {
    /// Parses the path/header form: `7`, `id:7`, `name:echo-1`,
    /// `capability:search` (or `cap:search`).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = || {
            ApiError::bad_request(
                "invalid_address",
                format!("address {text:?} is not `ID`, `id:ID`, `name:NAME` or `capability:NAME`"),
            )
        };
        let (how, what) = text.split_once(':').unwrap_or(("id", text));
        if what.is_empty() {
            return Err(bad());
        }
        match how {
            "id" => what.parse::<u64>().map(To::Id).map_err(|_| bad()),
            "name" => Ok(To::Name(what.to_owned())),
            "capability" | "cap" => Ok(To::Capability(what.to_owned())),
            _ => Err(bad()),
        }
    }

    /// The runtime address; id 0 is refused (no agent has it).
    pub fn address(&self) -> Result<Address, ApiError> {
        match self {
            To::Id(raw) => AgentId::new(*raw)
                .map(Address::Id)
                .ok_or_else(|| ApiError::bad_request("invalid_address", "agent id 0 does not exist: ids start at 1")),
            To::Name(n) if n.is_empty() => Err(ApiError::bad_request("invalid_address", "empty agent name")),
            To::Name(n) => Ok(Address::name(n.as_str())),
            To::Capability(c) if c.is_empty() => Err(ApiError::bad_request("invalid_address", "empty capability")),
            To::Capability(c) => Ok(Address::capability(c.as_str())),
        }
    }
}

/// A payload: a JSON string (its UTF-8 bytes) or `{"base64": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Text, carried as its UTF-8 bytes.
    Text(String),
    /// Any bytes.
    Base64(Bytes),
}

impl Payload {
    /// The bytes to send.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Payload::Text(s) => Bytes::from(s),
            Payload::Base64(b) => b,
        }
    }

    /// Encodes `bytes` as the caller sent theirs: text when the request
    /// was text and the bytes are UTF-8, base64 otherwise.
    pub fn like(request_was_text: bool, bytes: Bytes) -> Self {
        if request_was_text {
            match String::from_utf8(bytes.to_vec()) {
                Ok(s) => return Payload::Text(s),
                Err(e) => return Payload::Base64(Bytes::from(e.into_bytes())),
            }
        }
        Payload::Base64(bytes)
    }

    /// Whether this is the text form.
    pub fn is_text(&self) -> bool {
        matches!(self, Payload::Text(_))
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::Text(String::new())
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Payload::Text(t) => s.serialize_str(t),
            Payload::Base64(b) => {
                #[derive(Serialize)]
                struct B64 {
                    base64: String,
                }
                B64 {
                    base64: BASE64.encode(b),
                }
                .serialize(s)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct B64 {
            base64: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Base64(B64),
        }
        match Form::deserialize(d).map_err(|_| D::Error::custom("payload must be a string or {\"base64\": \"...\"}"))? {
            Form::Text(t) => Ok(Payload::Text(t)),
            Form::Base64(b) => BASE64
                .decode(b.base64.as_bytes())
                .map(|v| Payload::Base64(Bytes::from(v)))
                .map_err(|e| D::Error::custom(format!("payload.base64 is not valid base64: {e}"))),
        }
    }
}

/// The wire names of the performatives, in `Performative::ALL` order.
const PERFORMATIVE_NAMES: [&str; 13] = [
    "request",
    "inform",
    "query",
    "agree",
    "refuse",
    "failure",
    "not_understood",
    "propose",
    "accept_proposal",
    "reject_proposal",
    "call_for_proposal",
    "cancel",
    "subscribe",
];

/// The lower snake case name of a performative.
pub fn performative_name(p: Performative) -> &'static str {
    PERFORMATIVE_NAMES[p as usize]
}

/// Parses a performative name (`not_understood`, `not-understood` and
/// `NotUnderstood` are the same).
pub fn parse_performative(text: &str) -> Result<Performative, ApiError> {
    let folded: String = text
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    PERFORMATIVE_NAMES
        .iter()
        .position(|n| n.replace('_', "") == folded)
        .and_then(|i| Performative::from_u8(i as u8))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_performative",
                format!(
                    "unknown performative {text:?}; one of {}",
                    PERFORMATIVE_NAMES.join(", ")
                ),
            )
        })
}

/// `POST /v1/messages` and `POST /v1/requests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// The receiver.
    pub to: To,
    /// Defaults per route (`inform` to send, `request` to request).
    #[serde(default)]
    pub performative: Option<String>,
    /// The payload (empty text when absent).
    #[serde(default)]
    pub payload: Payload,
    /// Request timeout in milliseconds (requests only).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl MessageBody {
    /// The runtime message, with `default` as the performative when none
    /// was given.
    pub fn message(self, default: Performative) -> Result<(Message, bool), ApiError> {
        let performative = match &self.performative {
            Some(p) => parse_performative(p)?,
            None => default,
        };
        let text = self.payload.is_text();
        Ok((
            Message::new(self.to.address()?, performative, self.payload.into_bytes()),
            text,
        ))
    }
}

/// `POST /v1/broadcast`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastBody {
    /// The capability whose agents each get a copy.
    #[serde(default)]
    pub capability: Option<String>,
    /// The same, in the address form of the other routes:
    /// `{"capability": "search"}`.
    #[serde(default)]
    pub to: Option<To>,
    /// Default `inform`.
    #[serde(default)]
    pub performative: Option<String>,
    /// The payload.
    #[serde(default)]
    pub payload: Payload,
    /// Accepted for one body shape across routes; a broadcast waits for no
    /// reply, so it is ignored.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl BroadcastBody {
    /// The capability, from `capability` or `to` (exactly one of them).
    pub fn capability(&self) -> Result<&str, ApiError> {
        let cap = match (&self.capability, &self.to) {
            (Some(c), None) => c.as_str(),
            (None, Some(To::Capability(c))) => c.as_str(),
            (None, Some(_)) => {
                return Err(ApiError::bad_request(
                    "invalid_address",
                    "a broadcast goes to a capability: \"to\": {\"capability\": \"...\"}",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "invalid_address",
                    "give the capability once: \"capability\" or \"to\", not both",
                ));
            }
            (None, None) => {
                return Err(ApiError::bad_request(
                    "invalid_address",
                    "a broadcast needs \"capability\" (or \"to\": {\"capability\": ...})",
                ));
            }
        };
        if cap.is_empty() {
            return Err(ApiError::bad_request("invalid_address", "empty capability"));
        }
        Ok(cap)
    }
}

/// An agent as a sender: its id, and its name when it has one.
#[derive(Clone, Debug, Serialize)]
pub struct From {
    /// The agent id.
    pub id: u64,
    /// Its name, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A reply (or a message pushed to a WebSocket session).
#[derive(Clone, Debug, Serialize)]
pub struct Reply {
    /// Who sent it.
    pub from: Option<From>,
    /// Its performative.
    pub performative: &'static str,
    /// Its payload, in the request's encoding.
    pub payload: Payload,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_in_every_form() {
        assert_eq!(To::parse("7").unwrap(), To::Id(7));
        assert_eq!(To::parse("id:7").unwrap(), To::Id(7));
        assert_eq!(To::parse("name:echo-1").unwrap(), To::Name("echo-1".into()));
        assert_eq!(To::parse("name:a:b").unwrap(), To::Name("a:b".into()));
        assert_eq!(To::parse("cap:search").unwrap(), To::Capability("search".into()));
        for bad in ["", "x", "id:", "id:-1", "nick:x", "name:"] {
            let e = To::parse(bad).unwrap_err();
            assert_eq!(e.kind, "invalid_address", "{bad}");
        }
        assert_eq!(To::Id(0).address().unwrap_err().kind, "invalid_address");
    }

    #[test]
    fn performatives_round_trip_by_name() {
        for p in Performative::ALL {
            assert_eq!(parse_performative(performative_name(p)).unwrap(), p);
        }
        assert_eq!(
            parse_performative("NotUnderstood").unwrap(),
            Performative::NotUnderstood
        );
        assert_eq!(
            parse_performative("not-understood").unwrap(),
            Performative::NotUnderstood
        );
        assert!(parse_performative("shout").unwrap_err().message.contains("shout"));
    }

    #[test]
    fn payloads_keep_the_request_encoding() {
        let text: Payload = serde_json::from_str("\"hi\"").unwrap();
        assert_eq!(text, Payload::Text("hi".into()));
        let b: Payload = serde_json::from_str(r#"{"base64":"AAE="}"#).unwrap();
        assert_eq!(b, Payload::Base64(Bytes::from_static(&[0, 1])));
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"base64":"AAE="}"#);
        assert!(serde_json::from_str::<Payload>(r#"{"base64":"!!"}"#).is_err());
        assert!(serde_json::from_str::<Payload>("3").is_err());
        assert_eq!(
            Payload::like(true, Bytes::from_static(b"ok")),
            Payload::Text("ok".into())
        );
        assert!(!Payload::like(true, Bytes::from_static(&[0xff])).is_text());
        assert!(!Payload::like(false, Bytes::from_static(b"ok")).is_text());
    }
}
