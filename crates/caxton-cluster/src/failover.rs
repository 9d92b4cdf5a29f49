//! Failover: the survivors of a dead node restart its recoverable agents
//! from their last checkpoints, each exactly once across the lattice.
//!
//! A node is dead when its lease (its key in the node bucket, whose TTL is
//! the lease) is gone, or now belongs to a newer incarnation. Every
//! survivor polls the owners in its [`Directory`]; for each agent of a
//! dead owner it tries a compare-and-set of the agent's registry entry
//! (owner -> itself) at the revision it read. One survivor wins each
//! agent and hands it to its [`Respawner`]; the others see the new owner
//! and move on. Agents without a recipe die with their node: the winner
//! of the entry's delete counts them lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use caxton_core::AgentId;

use crate::directory::Directory;
use crate::durable;
use crate::recipe::{Adoption, Respawner};
use crate::store::{self, AgentRecord, NodeRecord, Store, StoredCheckpoint, id_key, name_key};

/// What failover did on this node (monotonic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailoverCounters {
    /// Dead nodes whose agents this node went through.
    pub dead_nodes_seen: u64,
    /// Agents this node adopted and restarted.
    pub adopted: u64,
    /// Agents this node won but could not restart (the error was printed).
    pub adoption_failures: u64,
    /// Agents without a recipe whose node died (removed from the registry).
    pub lost: u64,
}

/// The counters, shared with the failover task.
#[derive(Default)]
pub struct Counters {
    dead_nodes_seen: AtomicU64,
    adopted: AtomicU64,
    adoption_failures: AtomicU64,
    lost: AtomicU64,
}

impl Counters {
    /// A snapshot.
    pub fn get(&self) -> FailoverCounters {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FailoverCounters {
            dead_nodes_seen: g(&self.dead_nodes_seen),
            adopted: g(&self.adopted),
            adoption_failures: g(&self.adoption_failures),
            lost: g(&self.lost),
        }
    }
}

/// This node, as failover sees it.
pub struct Survivor {
    /// The lattice's buckets.
    pub store: Store,
    /// The registry mirror.
    pub directory: Directory,
    /// This node's name.
    pub me: String,
    /// This node's number.
    pub number: u64,
    /// What restarts adopted agents (none: this node adopts nothing, but
    /// still clears lost agents).
    pub respawner: Arc<std::sync::OnceLock<Arc<dyn Respawner>>>,
    /// The counters.
    pub counters: Arc<Counters>,
}

impl Survivor {
    /// Whether `owner` (incarnation `number`) still holds its lease.
    async fn alive(&self, owner: &str, number: u64) -> Option<bool> {
        match self.store.nodes.get(owner).await {
            Ok(Some(bytes)) => Some(store::decode::<NodeRecord>(&bytes).is_ok_and(|r| r.number == number)),
            Ok(None) => Some(false),
            // Cannot tell (NATS unreachable): do nothing.
            Err(_) => None,
        }
    }

    /// One pass: finds dead owners and takes over their agents.
    pub async fn sweep(&self) {
        for (owner, number) in self.directory.owners_except(&self.me, self.number) {
            if self.alive(&owner, number).await != Some(false) {
                continue;
            }
            self.counters.dead_nodes_seen.fetch_add(1, Ordering::Relaxed);
            for id in self.directory.hosted_by(&owner, number) {
                self.take_over(id, &owner, number).await;
            }
        }
    }

    /// Claims agent `id` of dead `owner`, then restarts it here.
    async fn take_over(&self, id: AgentId, owner: &str, number: u64) {
        let key = id_key(id);
        let agents = &self.store.agents;
        for _ in 0..3 {
            let Ok(Some(entry)) = agents.entry(key.clone()).await else {
                return;
            };
            if entry.operation != async_nats::jetstream::kv::Operation::Put {
                return;
            }
            let Ok(record) = store::decode::<AgentRecord>(&entry.value) else {
                return;
            };
            if record.owner != owner || record.owner_number != number {
                // Another survivor won it.
                return;
            }
            let Some(recipe) = record.recipe.clone() else {
                if agents.delete_expect_revision(&key, Some(entry.revision)).await.is_ok() {
                    self.counters.lost.fetch_add(1, Ordering::Relaxed);
                    if let Some(name) = &record.name {
                        let _ = self.store.names.delete(name_key(name)).await;
                    }
                    let _ = self.store.checkpoints.delete(&key).await;
                }
                continue;
            };
            let Some(respawner) = self.respawner.get().cloned() else {
                return;
            };
            let mine = AgentRecord {
                owner: self.me.clone(),
                owner_number: self.number,
                ..record.clone()
            };
            let Ok(claimed) = agents.update(&key, store::encode(&mine), entry.revision).await else {
                continue;
            };
            // A durable agent's record is rewritten under this node's
            // number first: should the old owner only have stalled, its
            // pump can no longer commit (nor acknowledge, nor purge)
            // what this node's consumer has to redeliver.
            let read = if recipe.durable {
                durable::own_checkpoint(&self.store.checkpoints, id, self.number)
                    .await
                    .map(|(record, _)| Some(record))
            } else {
                match self.store.checkpoints.get(&key).await {
                    Ok(bytes) => Ok(bytes.and_then(|b| store::decode::<StoredCheckpoint>(&b).ok())),
                    Err(e) => Err(format!("reading its checkpoint: {e}")),
                }
            };
            let stored = match read {
                Ok(stored) => stored,
                Err(e) => {
                    // Restarting without the state it has would lose it:
                    // the claim goes back and a later sweep tries again.
                    eprintln!(
                        "caxton-cluster: node {} leaves agent {id} of dead node {owner} for now: {e}",
                        self.me
                    );
                    let _ = agents.update(&key, entry.value.clone(), claimed).await;
                    return;
                }
            };
            let adoption = Adoption {
                id,
                name: record.name,
                capabilities: record.capabilities,
                recipe,
                checkpoint: stored.as_ref().and_then(|s| s.checkpoint.clone()),
                applied: stored.map_or(0, |s| s.applied),
                from_node: owner.to_owned(),
                from_number: number,
            };
            match respawner.respawn(adoption).await {
                Ok(_) => {
                    self.counters.adopted.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.counters.adoption_failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "caxton-cluster: node {} could not restart agent {id} of dead node {owner}: {e}",
                        self.me
                    );
                }
            }
            return;
        }
    }
}
