//! Echo guest: answers a request or query with the payload it got (an
//! inform expects no answer and gets none). A payload of
//! `forward:` + 8-byte little-endian agent id + rest sends `rest` to that
//! agent instead (WASM -> native messaging).
use caxton_abi::guests::echo::FORWARD;
use caxton_guest::{Agent, Incoming, performative, reply, send};

#[derive(Default)]
struct Echo;

impl Agent for Echo {
    fn handle(&mut self, msg: &Incoming<'_>) -> Result<(), u32> {
        if let Some(rest) = msg.payload.strip_prefix(FORWARD) {
            let (to, body) = rest.split_at_checked(8).ok_or(2u32)?;
            let to = u64::from_le_bytes(to.try_into().map_err(|_| 2u32)?);
            send(to, performative::INFORM, body);
            return Ok(());
        }
        if msg.performative == performative::REQUEST || msg.performative == performative::QUERY {
            reply(performative::INFORM, msg.payload);
        }
        Ok(())
    }
}

caxton_guest::export_agent!(Echo);
