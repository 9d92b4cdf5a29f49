//! The lattice's shared state in JetStream: node leases, the agent
//! registry, names, checkpoints, WASM modules and the durable stream.
//!
//! | bucket / stream | key | value |
//! | --- | --- | --- |
//! | `caxton_<l>_nodes` (TTL = lease) | node name | [`NodeRecord`] |
//! | `caxton_<l>_joins` | `join` | empty: its revision numbers the node |
//! | `caxton_<l>_agents` | agent id | [`AgentRecord`] |
//! | `caxton_<l>_names` | [`name_key`] of the agent name | agent id |
//! | `caxton_<l>_checkpoints` | agent id | [`StoredCheckpoint`] |
//! | `caxton_<l>_modules` (object store) | module id | module bytes |
//! | `caxton_<l>_durable` (purged as commits cover it) | `caxton.<l>.durable.<id>` | wire frames |
//!
//! Records are postcard behind the wire version byte, like frames.

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};
use bytes::Bytes;
use caxton_core::AgentId;
use caxton_runtime::Checkpoint;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::recipe::Recipe;
use crate::subjects::Subjects;
use crate::wire::WIRE_VERSION;

/// A node's lease record: its wire version and its number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's number (its agents' id range).
    pub number: u64,
}

/// One agent of the lattice in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The node hosting it.
    pub owner: String,
    /// That node's number (a node restarted under the same name is another owner).
    pub owner_number: u64,
    /// Its registered name.
    pub name: Option<String>,
    /// Its capabilities.
    pub capabilities: Vec<String>,
    /// How to rebuild it elsewhere; `None`: it dies with its node.
    pub recipe: Option<Recipe>,
}

/// An agent's last checkpoint as stored; for durable agents with the last
/// stream sequence it covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// The checkpoint (`None`: the agent keeps no state, only the sequence).
    pub checkpoint: Option<Checkpoint>,
    /// The last durable stream sequence handled before it was taken.
    pub applied: u64,
    /// The number of the node that wrote it (durable agents: the node
    /// whose pump commits; an adopter rewrites the record under its own
    /// number to fence the previous owner's pump).
    pub writer: u64,
}

impl StoredCheckpoint {
    /// No state and no sequence yet (a new durable agent).
    pub fn empty() -> Self {
        Self {
            checkpoint: None,
            applied: 0,
            writer: 0,
        }
    }
}

/// Why a record did not decode.
#[derive(Debug, thiserror::Error)]
#[error("record: {0}")]
pub struct RecordError(String);

/// Encodes a record behind the wire version byte.
pub fn encode<T: Serialize>(record: &T) -> Bytes {
    let mut out = vec![WIRE_VERSION];
    // Records are plain structs of strings, numbers and bytes: postcard
    // cannot fail on them.
    out.extend(postcard::to_allocvec(record).unwrap_or_default());
    Bytes::from(out)
}

/// Decodes a record written by [`encode`] at this wire version.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RecordError> {
    match bytes.split_first() {
        Some((&v, body)) if v == WIRE_VERSION => {
            postcard::from_bytes(body).map_err(|e| RecordError(format!("malformed: {e}")))
        }
        Some((&v, _)) => Err(RecordError(format!(
            "wire version {v}, this node speaks {WIRE_VERSION}"
        ))),
        None => Err(RecordError("empty".into())),
    }
}

/// The key of an agent id.
pub fn id_key(id: AgentId) -> String {
    id.get().to_string()
}

/// The key of an agent name: the name itself when it is made of letters,
/// digits, `-` and `_`; otherwise `=` and its bytes in hex (key-value keys
/// allow fewer characters than subject tokens).
pub fn name_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        name.to_owned()
    } else {
        let mut key = String::with_capacity(1 + 2 * name.len());
        key.push('=');
        for b in name.bytes() {
            key.push_str(&format!("{b:02x}"));
        }
        key
    }
}

/// Handles on the lattice's buckets and stream.
#[derive(Clone)]
pub struct Store {
    /// JetStream.
    pub js: jetstream::Context,
    /// Node leases.
    pub nodes: kv::Store,
    /// Node numbers.
    pub joins: kv::Store,
    /// The agent registry.
    pub agents: kv::Store,
    /// Agent names.
    pub names: kv::Store,
    /// Checkpoints.
    pub checkpoints: kv::Store,
    /// WASM modules.
    pub modules: object_store::ObjectStore,
    /// The durable stream.
    pub durable: stream::Stream,
}

/// Creates a bucket, or binds the existing one (another node made it,
/// perhaps with other settings: its settings win).
async fn bucket(js: &jetstream::Context, config: kv::Config) -> Result<kv::Store, String> {
    let name = config.bucket.clone();
    match js.create_key_value(config).await {
        Ok(store) => Ok(store),
        Err(create) => js
            .get_key_value(&name)
            .await
            .map_err(|e| format!("bucket {name}: {create}; binding it: {e}")),
    }
}

impl Store {
    /// Opens (creating where missing) every bucket and the stream of the
    /// lattice. `lease` is the node bucket's TTL; `durable_bytes` bounds
    /// the durable stream (a full stream refuses new messages).
    pub async fn open(
        client: async_nats::Client,
        subjects: &Subjects,
        lease: Duration,
        durable_bytes: i64,
    ) -> Result<Self, String> {
        let js = jetstream::new(client);
        let lattice = subjects.lattice();
        let kv = |bucket: String, what: &str| kv::Config {
            bucket,
            description: format!("Caxton {what} of lattice {lattice}"),
            history: 1,
            ..Default::default()
        };
        let nodes = bucket(
            &js,
            kv::Config {
                max_age: lease,
                ..kv(subjects.nodes_bucket(), "node leases")
            },
        )
        .await?;
        let joins = bucket(&js, kv(subjects.joins_bucket(), "node numbers")).await?;
        let agents = bucket(&js, kv(subjects.agents_bucket(), "agent registry")).await?;
        let names = bucket(&js, kv(subjects.names_bucket(), "agent names")).await?;
        let checkpoints = bucket(&js, kv(subjects.checkpoints_bucket(), "checkpoints")).await?;
        let modules_name = subjects.modules_bucket();
        let modules = match js
            .create_object_store(object_store::Config {
                bucket: modules_name.clone(),
                description: Some(format!("Caxton WASM modules of lattice {lattice}")),
                ..Default::default()
            })
            .await
        {
            Ok(store) => store,
            Err(create) => js
                .get_object_store(&modules_name)
                .await
                .map_err(|e| format!("object store {modules_name}: {create}; binding it: {e}"))?,
        };
        let durable = js
            .get_or_create_stream(stream::Config {
                name: subjects.durable_stream(),
                description: Some(format!("Caxton durable messages of lattice {lattice}")),
                subjects: vec![subjects.durable_all()],
                retention: stream::RetentionPolicy::Limits,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                max_bytes: durable_bytes,
                discard: stream::DiscardPolicy::New,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("stream {}: {e}", subjects.durable_stream()))?;
        Ok(Self {
            js,
            nodes,
            joins,
            agents,
            names,
            checkpoints,
            modules,
            durable,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_other_versions() {
        let r = AgentRecord {
            owner: "a".into(),
            owner_number: 3,
            name: Some("x".into()),
            capabilities: vec!["c".into()],
            recipe: Some(Recipe::new("counter", Bytes::from_static(b"{}")).durable(true)),
        };
        let bytes = encode(&r);
        assert_eq!(decode::<AgentRecord>(&bytes).unwrap(), r);
        let mut other = bytes.to_vec();
        other[0] = WIRE_VERSION + 1;
        assert!(
            decode::<AgentRecord>(&other)
                .unwrap_err()
                .to_string()
                .contains("wire version")
        );
        assert!(decode::<AgentRecord>(&[]).is_err());
        assert!(decode::<AgentRecord>(&[WIRE_VERSION, 0xff, 0xff]).is_err());
    }

    #[test]
    fn name_keys_are_valid_keys_and_distinct() {
        assert_eq!(name_key("echo-1_a"), "echo-1_a");
        assert_eq!(name_key("a b"), "=612062");
        assert_eq!(name_key("é"), "=c3a9");
        assert_ne!(name_key("=61"), name_key("a"));
    }
}
