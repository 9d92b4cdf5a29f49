//! Each node's mirror of the lattice's agent registry, kept current by a
//! key-value watch: which node hosts each agent, names, which agents are
//! durable. Read on the send path (durable or not) and by failover (whose
//! agents a dead node held); writes always go to the bucket itself.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv;
use caxton_core::AgentId;
use futures_util::StreamExt;

use crate::store::{self, AgentRecord};

#[derive(Default)]
struct Maps {
    agents: HashMap<AgentId, AgentRecord>,
    names: HashMap<String, AgentId>,
}

/// The mirror. Cheap to clone.
#[derive(Clone, Default)]
pub struct Directory(Arc<RwLock<Maps>>);

impl Directory {
    /// The record of `id`, if the registry has one.
    pub fn get(&self, id: AgentId) -> Option<AgentRecord> {
        self.read(|m| m.agents.get(&id).cloned())
    }

    /// The id registered under `name`.
    pub fn lookup(&self, name: &str) -> Option<AgentId> {
        self.read(|m| m.names.get(name).copied())
    }

    /// Whether `id` asked for durable delivery.
    pub fn is_durable(&self, id: AgentId) -> bool {
        self.read(|m| {
            m.agents
                .get(&id)
                .and_then(|r| r.recipe.as_ref())
                .is_some_and(|r| r.durable)
        })
    }

    /// The (node, number) pairs hosting agents, other than `me`'s.
    pub fn owners_except(&self, me: &str, my_number: u64) -> Vec<(String, u64)> {
        self.read(|m| {
            let mut owners: Vec<(String, u64)> = m
                .agents
                .values()
                .filter(|r| !(r.owner == me && r.owner_number == my_number))
                .map(|r| (r.owner.clone(), r.owner_number))
                .collect();
            owners.sort();
            owners.dedup();
            owners
        })
    }

    /// The agents hosted by `owner` (incarnation `number`).
    pub fn hosted_by(&self, owner: &str, number: u64) -> Vec<AgentId> {
        self.read(|m| {
            m.agents
                .iter()
                .filter(|(_, r)| r.owner == owner && r.owner_number == number)
                .map(|(id, _)| *id)
                .collect()
        })
    }

    /// How many agents the registry holds.
    pub fn len(&self) -> usize {
        self.read(|m| m.agents.len())
    }

    /// Whether the registry holds no agent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read<T>(&self, f: impl FnOnce(&Maps) -> T) -> T {
        f(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Applies one registry change.
    pub fn apply(&self, id: AgentId, record: Option<AgentRecord>) {
        let mut m = self.0.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = m.agents.remove(&id)
            && let Some(name) = old.name
            && m.names.get(&name) == Some(&id)
        {
            m.names.remove(&name);
        }
        if let Some(record) = record {
            if let Some(name) = &record.name {
                m.names.insert(name.clone(), id);
            }
            m.agents.insert(id, record);
        }
    }

    /// Brings the mirror in line with the bucket: fetches the entries it
    /// lacks and drops the ones the bucket no longer has. A backstop for
    /// a watch that missed an event (a reconnect, a consumer reset); run
    /// every few seconds by the node.
    pub async fn reconcile(&self, bucket: &kv::Store) {
        let Ok(mut keys) = bucket.keys().await else { return };
        let mut present = std::collections::HashSet::new();
        while let Some(key) = keys.next().await {
            let Ok(key) = key else { return };
            if let Some(id) = key.parse::<u64>().ok().and_then(AgentId::new) {
                present.insert(id);
            }
        }
        let (missing, extra): (Vec<AgentId>, Vec<AgentId>) = self.read(|m| {
            (
                present
                    .iter()
                    .filter(|id| !m.agents.contains_key(id))
                    .copied()
                    .collect(),
                m.agents.keys().filter(|id| !present.contains(id)).copied().collect(),
            )
        });
        for id in missing {
            if let Ok(Some(bytes)) = bucket.get(id.get().to_string()).await
                && let Ok(record) = store::decode::<AgentRecord>(&bytes)
            {
                self.apply(id, Some(record));
            }
        }
        for id in extra {
            // Only if it is still gone (it may have been written since the listing).
            if let Ok(None) = bucket.get(id.get().to_string()).await {
                self.apply(id, None);
            }
        }
    }

    /// Follows the registry bucket until the task is aborted: every
    /// current entry first, then each change. A watch that ends (the
    /// connection dropped) is started again.
    pub async fn follow(self, bucket: kv::Store) {
        loop {
            if let Ok(mut watch) = bucket.watch_all().await {
                while let Some(entry) = watch.next().await {
                    let Ok(entry) = entry else { continue };
                    let Some(id) = entry.key.parse::<u64>().ok().and_then(AgentId::new) else {
                        continue;
                    };
                    let record = match entry.operation {
                        kv::Operation::Put => store::decode::<AgentRecord>(&entry.value).ok(),
                        kv::Operation::Delete | kv::Operation::Purge => None,
                    };
                    self.apply(id, record);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
