//! Compute guest: runs `caxton_kernels::handle_request` (the same code as
//! the native twin) and replies with the 8-byte result.
use caxton_guest::{Agent, Incoming, performative, reply};

#[derive(Default)]
struct Compute;

impl Agent for Compute {
    fn handle(&mut self, msg: &Incoming<'_>) -> Result<(), u32> {
        let out = caxton_kernels::handle_request(msg.payload).ok_or(1u32)?;
        reply(performative::INFORM, &out);
        Ok(())
    }
}

caxton_guest::export_agent!(Compute);
