//! Native twins of the guest agents, for WASM-vs-native comparisons.

use caxton_runtime::{Agent, AgentError, Context, Message, Performative};

/// Native twin of the `echo` guest: answers a request or query with the
/// payload; an inform gets no answer.
pub use caxton_runtime::agents::Echo;

/// Native twin of the `compute` guest: the same `caxton_kernels` code.
#[derive(Debug, Default, Clone, Copy)]
pub struct Compute;

impl Agent for Compute {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        let out = caxton_kernels::handle_request(&msg.payload)
            .ok_or_else(|| AgentError::handler("malformed compute request"))?;
        ctx.reply(Performative::Inform, out.to_vec())
            .map_err(|e| AgentError::handler(e.to_string()))
    }
}
