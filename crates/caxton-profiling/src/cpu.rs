//! CPU per agent: the orchestrator's per-agent handler CPU time turned into
//! CPU % over a window, next to the whole process's CPU % per agent.
//!
//! Take a [`CpuSnapshot`] at the start and at the end of a window and call
//! [`CpuWindow::between`]. Percentages are of one core (100 = one core busy
//! for the whole window), like `top` and sysinfo.
//!
//! ```no_run
//! # async fn demo(orch: caxton_runtime::Orchestrator) {
//! use caxton_profiling::cpu::{CpuSnapshot, CpuWindow};
//! let before = CpuSnapshot::take(&orch);
//! tokio::time::sleep(std::time::Duration::from_secs(10)).await;
//! let window = CpuWindow::between(&before, &CpuSnapshot::take(&orch));
//! println!("busiest agent: {:.2} %", window.agent_cpu_percent_max);
//! # }
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use caxton_runtime::{AgentId, AgentStats, Orchestrator};
use serde::{Deserialize, Serialize};

use crate::process::process_cpu_time;

/// Per-agent handler CPU and process CPU at one instant.
#[derive(Clone, Debug)]
pub struct CpuSnapshot {
    at: Instant,
    process_cpu: Duration,
    agents: Vec<AgentStats>,
}

impl CpuSnapshot {
    /// Reads every live agent's stats and this process's CPU time now.
    pub fn take(orch: &Orchestrator) -> Self {
        Self::from_parts(Instant::now(), process_cpu_time(), orch.all_stats())
    }

    /// A snapshot from readings taken elsewhere (for tests and replays).
    pub fn from_parts(at: Instant, process_cpu: Duration, agents: Vec<AgentStats>) -> Self {
        Self {
            at,
            process_cpu,
            agents,
        }
    }
}

/// One agent's CPU over a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentCpu {
    /// The agent.
    pub id: AgentId,
    /// Its registered name, if any.
    pub name: Option<String>,
    /// Handler CPU time spent in the window, in milliseconds.
    pub handler_cpu_ms: f64,
    /// Messages handled in the window.
    pub messages: u64,
    /// Handler CPU time / wall time, in percent of one core.
    pub cpu_percent: f64,
}

/// CPU use over a window: per agent and for the whole process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CpuWindow {
    /// Wall time of the window, in milliseconds.
    pub wall_ms: f64,
    /// Agents live at the end of the window.
    pub agents: usize,
    /// Process CPU time (all threads) in the window, in milliseconds.
    pub process_cpu_ms: f64,
    /// Process CPU time / wall time, in percent of one core.
    pub process_cpu_percent: f64,
    /// `process_cpu_percent` / agents (0 with no agents).
    pub process_cpu_percent_per_agent: f64,
    /// Mean of the agents' `cpu_percent` (0 with no agents).
    pub agent_cpu_percent_mean: f64,
    /// Highest agent `cpu_percent`.
    pub agent_cpu_percent_max: f64,
    /// Sum of the agents' `cpu_percent`: the share of process CPU spent in
    /// handlers, the rest being routing, scheduling and the load generator.
    pub agent_cpu_percent_sum: f64,
    /// Each agent live at the end, by id.
    pub per_agent: Vec<AgentCpu>,
}

/// Handler CPU time between two readings as a percentage of `wall`.
pub fn agent_cpu_percent(before: Duration, after: Duration, wall: Duration) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    after.saturating_sub(before).as_secs_f64() / wall.as_secs_f64() * 100.0
}

impl CpuWindow {
    /// The window from `before` to `after`. Agents spawned during the window
    /// count from zero; agents gone by its end are left out.
    pub fn between(before: &CpuSnapshot, after: &CpuSnapshot) -> Self {
        let wall = after.at.saturating_duration_since(before.at);
        let earlier: HashMap<AgentId, &AgentStats> = before.agents.iter().map(|s| (s.id, s)).collect();
        let mut per_agent: Vec<AgentCpu> = after
            .agents
            .iter()
            .map(|s| {
                let (cpu0, msgs0) = earlier
                    .get(&s.id)
                    .map(|b| (b.handler_cpu, b.messages_handled))
                    .unwrap_or((Duration::ZERO, 0));
                AgentCpu {
                    id: s.id,
                    name: s.name.clone(),
                    handler_cpu_ms: s.handler_cpu.saturating_sub(cpu0).as_secs_f64() * 1000.0,
                    messages: s.messages_handled.saturating_sub(msgs0),
                    cpu_percent: agent_cpu_percent(cpu0, s.handler_cpu, wall),
                }
            })
            .collect();
        per_agent.sort_by_key(|a| a.id);
        let n = per_agent.len();
        let process_cpu = after.process_cpu.saturating_sub(before.process_cpu);
        let process_cpu_percent = agent_cpu_percent(Duration::ZERO, process_cpu, wall);
        let sum: f64 = per_agent.iter().map(|a| a.cpu_percent).sum();
        Self {
            wall_ms: wall.as_secs_f64() * 1000.0,
            agents: n,
            process_cpu_ms: process_cpu.as_secs_f64() * 1000.0,
            process_cpu_percent,
            process_cpu_percent_per_agent: if n == 0 { 0.0 } else { process_cpu_percent / n as f64 },
            agent_cpu_percent_mean: if n == 0 { 0.0 } else { sum / n as f64 },
            agent_cpu_percent_max: per_agent.iter().map(|a| a.cpu_percent).fold(0.0, f64::max),
            agent_cpu_percent_sum: sum,
            per_agent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caxton_runtime::AgentStatus;

    fn stats(id: u64, cpu_ms: u64, msgs: u64) -> AgentStats {
        AgentStats {
            id: AgentId::new(id).unwrap(),
            name: None,
            status: AgentStatus::Running,
            messages_handled: msgs,
            batches: 0,
            handler_cpu: Duration::from_millis(cpu_ms),
            mailbox_depth: 0,
            mailbox_high_water: 0,
            mailbox_capacity: 1,
            restarts: 0,
            dead_letters: 0,
            checkpoints: 0,
            memory_bytes: None,
            recovery_times: Vec::new(),
        }
    }

    #[test]
    fn per_agent_and_process_cpu_over_a_window() {
        let t0 = Instant::now();
        let before = CpuSnapshot::from_parts(t0, Duration::from_millis(1000), vec![stats(1, 100, 10), stats(2, 0, 0)]);
        let after = CpuSnapshot::from_parts(
            t0 + Duration::from_secs(2),
            Duration::from_millis(2000),
            vec![stats(1, 300, 30), stats(2, 100, 5), stats(3, 50, 1)],
        );
        let w = CpuWindow::between(&before, &after);
        assert_eq!(w.agents, 3);
        assert!((w.wall_ms - 2000.0).abs() < 1e-9);
        // Agent 1: 200 ms of CPU in 2 s = 10 %.
        assert!((w.per_agent[0].cpu_percent - 10.0).abs() < 1e-9);
        assert_eq!(w.per_agent[0].messages, 20);
        assert!((w.per_agent[1].cpu_percent - 5.0).abs() < 1e-9);
        // Agent 3 was spawned in the window: counted from zero.
        assert!((w.per_agent[2].cpu_percent - 2.5).abs() < 1e-9);
        assert!((w.agent_cpu_percent_max - 10.0).abs() < 1e-9);
        assert!((w.agent_cpu_percent_sum - 17.5).abs() < 1e-9);
        // Process: 1 s of CPU in 2 s = 50 %, over 3 agents.
        assert!((w.process_cpu_percent - 50.0).abs() < 1e-9);
        assert!((w.process_cpu_percent_per_agent - 50.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn zero_wall_time_gives_zero() {
        assert_eq!(
            agent_cpu_percent(Duration::ZERO, Duration::from_secs(1), Duration::ZERO),
            0.0
        );
    }
}
