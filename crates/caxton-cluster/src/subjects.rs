//! NATS subjects of a lattice, and the validation of the names in them.
//!
//! * `caxton.<lattice>.agent.<id>`: one agent, by its raw id.
//! * `caxton.<lattice>.name.<name>`: the agent registered under `name`.
//! * `caxton.<lattice>.cap.<capability>`: one agent with the capability,
//!   subscribed in the queue group [`capability_queue`] (NATS picks one).
//! * `caxton.<lattice>.bcast.<capability>`: every agent with the capability.
//!
//! Lattice and node names are restricted to `[A-Za-z0-9_-]` (they also name
//! JetStream buckets and keys); agent names and capabilities must be single
//! NATS subject tokens (no dots, whitespace or wildcards).

use std::sync::Arc;

use caxton_core::AgentId;

/// A name that cannot be used in a subject, a bucket or a key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {name:?}: {why}")]
pub struct SubjectError {
    /// What the name is for ("lattice", "node", "agent name", "capability").
    pub what: &'static str,
    /// The refused name.
    pub name: String,
    /// Why it was refused.
    pub why: &'static str,
}

/// Checks a lattice or node name: 1 to 64 characters of `[A-Za-z0-9_-]`.
pub fn validate_name(what: &'static str, name: &str) -> Result<(), SubjectError> {
    let err = |why| {
        Err(SubjectError {
            what,
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() {
        return err("it is empty");
    }
    if name.len() > 64 {
        return err("it is longer than 64 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return err("only letters, digits, '-' and '_' are allowed");
    }
    Ok(())
}

/// Checks an agent name or capability: one non-empty NATS subject token.
pub fn validate_token(what: &'static str, token: &str) -> Result<(), SubjectError> {
    let err = |why| {
        Err(SubjectError {
            what,
            name: token.to_owned(),
            why,
        })
    };
    if token.is_empty() {
        return err("it is empty");
    }
    if token.contains('.') {
        return err("a subject token cannot contain '.'");
    }
    if token.contains(['*', '>']) {
        return err("a subject token cannot contain the wildcards '*' or '>'");
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return err("a subject token cannot contain whitespace or control characters");
    }
    Ok(())
}

/// The queue group the agents of `capability` subscribe in (NATS delivers
/// each message to one member of the group, on any node).
pub fn capability_queue(capability: &str) -> String {
    format!("cap-{capability}")
}

/// The subjects of one lattice.
#[derive(Clone, Debug)]
pub struct Subjects {
    lattice: Arc<str>,
}

impl Subjects {
    /// The subjects of `lattice` (a validated name).
    pub fn new(lattice: &str) -> Result<Self, SubjectError> {
        validate_name("lattice", lattice)?;
        Ok(Self {
            lattice: lattice.into(),
        })
    }

    /// The lattice's name.
    pub fn lattice(&self) -> &str {
        &self.lattice
    }

    /// `caxton.<lattice>.agent.<id>`.
    pub fn agent(&self, id: AgentId) -> String {
        format!("caxton.{}.agent.{}", self.lattice, id.get())
    }

    /// `caxton.<lattice>.name.<name>`.
    pub fn name(&self, name: &str) -> Result<String, SubjectError> {
        validate_token("agent name", name)?;
        Ok(format!("caxton.{}.name.{name}", self.lattice))
    }

    /// `caxton.<lattice>.cap.<capability>` (subscribed in [`capability_queue`]).
    pub fn capability(&self, capability: &str) -> Result<String, SubjectError> {
        validate_token("capability", capability)?;
        Ok(format!("caxton.{}.cap.{capability}", self.lattice))
    }

    /// `caxton.<lattice>.bcast.<capability>` (every capable agent subscribes).
    pub fn broadcast(&self, capability: &str) -> Result<String, SubjectError> {
        validate_token("capability", capability)?;
        Ok(format!("caxton.{}.bcast.{capability}", self.lattice))
    }

    /// The JetStream key-value bucket of the lattice's node records.
    pub fn nodes_bucket(&self) -> String {
        format!("caxton_{}_nodes", self.lattice)
    }

    /// The key-value bucket that hands out node numbers (one put per join).
    pub fn joins_bucket(&self) -> String {
        format!("caxton_{}_joins", self.lattice)
    }

    /// The key-value bucket of the lattice's agents (id -> owner, name,
    /// capabilities, recipe).
    pub fn agents_bucket(&self) -> String {
        format!("caxton_{}_agents", self.lattice)
    }

    /// The key-value bucket of agent names (name -> id): one per lattice.
    pub fn names_bucket(&self) -> String {
        format!("caxton_{}_names", self.lattice)
    }

    /// The key-value bucket of the agents' last checkpoints.
    pub fn checkpoints_bucket(&self) -> String {
        format!("caxton_{}_checkpoints", self.lattice)
    }

    /// The object store of WASM modules, by module id.
    pub fn modules_bucket(&self) -> String {
        format!("caxton_{}_modules", self.lattice)
    }

    /// The JetStream stream of durable messages.
    pub fn durable_stream(&self) -> String {
        format!("caxton_{}_durable", self.lattice)
    }

    /// The subjects of [`Self::durable_stream`].
    pub fn durable_all(&self) -> String {
        format!("caxton.{}.durable.*", self.lattice)
    }

    /// Durable messages for agent `id`.
    pub fn durable(&self, id: AgentId) -> String {
        format!("caxton.{}.durable.{}", self.lattice, id.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_built_from_tokens() {
        let s = Subjects::new("prod-1").unwrap();
        assert_eq!(s.agent(AgentId::new(42).unwrap()), "caxton.prod-1.agent.42");
        assert_eq!(s.name("echo").unwrap(), "caxton.prod-1.name.echo");
        assert_eq!(s.capability("ocr").unwrap(), "caxton.prod-1.cap.ocr");
        assert_eq!(s.broadcast("ocr").unwrap(), "caxton.prod-1.bcast.ocr");
        assert_eq!(s.nodes_bucket(), "caxton_prod-1_nodes");
        assert_eq!(s.durable(AgentId::new(7).unwrap()), "caxton.prod-1.durable.7");
        assert_eq!(s.durable_all(), "caxton.prod-1.durable.*");
        assert_eq!(capability_queue("ocr"), "cap-ocr");
    }

    #[test]
    fn bad_names_are_typed_errors() {
        for bad in ["", "a.b", "a b", "a*", "a>", "né", &"x".repeat(65)] {
            let e = Subjects::new(bad).unwrap_err();
            assert_eq!(e.what, "lattice");
            assert!(validate_name("node", bad).is_err(), "{bad:?}");
        }
        let s = Subjects::new("l").unwrap();
        for bad in ["", "a.b", "a b", "*", ">", "a\tb"] {
            assert!(s.name(bad).is_err(), "{bad:?}");
            assert_eq!(s.capability(bad).unwrap_err().what, "capability");
        }
        assert!(s.name("écho-1_x").is_ok());
    }
}
