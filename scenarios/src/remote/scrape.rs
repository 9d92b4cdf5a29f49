//! The server's message counters, read from its `/metrics` text, and the
//! difference between two readings (what a run added).

use std::collections::BTreeMap;

use caxton_runtime::DeadLetterCounts;

/// The counters of one `/metrics` reading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scrape {
    /// `caxton_messages_routed_total`, by route.
    pub routed: BTreeMap<String, u64>,
    /// `caxton_messages_handled_total`.
    pub handled: u64,
    /// `caxton_dead_letters_total`, by reason.
    pub dead_letters: BTreeMap<String, u64>,
    /// `caxton_agent_restarts_total`.
    pub restarts: u64,
}

/// The value of label `name` in `{a="x",b="y"}`.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels
        .trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

impl Scrape {
    /// Reads the counters out of Prometheus text (other lines ignored).
    pub fn parse(text: &str) -> Self {
        let mut s = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            // Counters are integers; prometheus-client may print `5.0`.
            let Ok(v) = value.trim().parse::<f64>() else { continue };
            let v = v as u64;
            let (name, labels) = series.split_once('{').map_or((series, ""), |(n, l)| (n, l));
            match name {
                "caxton_messages_routed_total" => {
                    *s.routed
                        .entry(label(labels, "route").unwrap_or("").to_owned())
                        .or_default() += v;
                }
                "caxton_messages_handled_total" => s.handled += v,
                "caxton_dead_letters_total" => {
                    *s.dead_letters
                        .entry(label(labels, "reason").unwrap_or("").to_owned())
                        .or_default() += v;
                }
                "caxton_agent_restarts_total" => s.restarts += v,
                _ => {}
            }
        }
        s
    }

    /// What `after` added to `self` (counters never go down; a restarted
    /// server would read as nothing added).
    pub fn delta(&self, after: &Self) -> Self {
        let sub = |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>| {
            b.iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(a.get(k).copied().unwrap_or(0))))
                .filter(|(_, v)| *v > 0)
                .collect()
        };
        Self {
            routed: sub(&self.routed, &after.routed),
            handled: after.handled.saturating_sub(self.handled),
            dead_letters: sub(&self.dead_letters, &after.dead_letters),
            restarts: after.restarts.saturating_sub(self.restarts),
        }
    }

    /// Messages routed through `route`.
    pub fn routed(&self, route: &str) -> u64 {
        self.routed.get(route).copied().unwrap_or(0)
    }

    /// The dead letters as the runtime counts them.
    pub fn dead_letter_counts(&self) -> DeadLetterCounts {
        DeadLetterCounts {
            total: self.dead_letters.values().sum(),
            by_reason: self.dead_letters.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caxton_runtime::DeadLetterKind;

    const TEXT: &str = "# HELP caxton_messages_handled Messages handled\n\
        # TYPE caxton_messages_handled counter\n\
        caxton_messages_handled_total 120\n\
        caxton_messages_routed_total{route=\"raw_send\"} 100\n\
        caxton_messages_routed_total{route=\"send\"} 7\n\
        caxton_dead_letters_total{reason=\"fault\"} 3\n\
        caxton_dead_letters_total{reason=\"mailbox_full\"} 2\n\
        caxton_agent_restarts_total 3\n\
        caxton_agents{kind=\"sink\",status=\"running\"} 10\n";

    #[test]
    fn counters_are_read_and_subtracted() {
        let before = Scrape::parse(TEXT);
        assert_eq!(
            (before.handled, before.routed("raw_send"), before.restarts),
            (120, 100, 3)
        );
        let after = Scrape::parse(
            &TEXT
                .replace("} 100", "} 150")
                .replace("handled_total 120", "handled_total 160.0")
                .replace("\"fault\"} 3", "\"fault\"} 5"),
        );
        let d = before.delta(&after);
        assert_eq!(
            (d.handled, d.routed("raw_send"), d.routed("send"), d.restarts),
            (40, 50, 0, 0)
        );
        let dl = d.dead_letter_counts();
        assert_eq!((dl.total, dl.get(DeadLetterKind::Fault)), (2, 2));
    }
}
