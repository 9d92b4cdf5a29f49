//! Ready-made agents that benchmarks, tests and health checks share.

use caxton_core::{Message, Performative};

use crate::agent::Agent;
use crate::context::Context;
use crate::error::AgentError;

/// Answers a request or query with the payload it got (to the waiting
/// caller or the sender); an inform expects no answer and gets none. The
/// same contract as the `echo` WASM guest, whose native twin this is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

impl Agent for Echo {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        if !matches!(msg.performative, Performative::Request | Performative::Query) {
            return Ok(());
        }
        ctx.reply(Performative::Inform, msg.payload.clone())
            .map_err(|e| AgentError::handler(e.to_string()))
    }
}
