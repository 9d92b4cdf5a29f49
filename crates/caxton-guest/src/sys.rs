//! The host imports (module `caxton`), with no-op stand-ins off wasm32.

// The link attributes below need literals; they must be the ABI's names.
const _: () = {
    use caxton_abi::{IMPORT_MODULE, REPLY, SEND, str_eq};
    assert!(str_eq(IMPORT_MODULE, "caxton"));
    assert!(str_eq(REPLY, "reply"));
    assert!(str_eq(SEND, "send"));
};

#[cfg(target_arch = "wasm32")]
mod imp {
    #[link(wasm_import_module = "caxton")]
    unsafe extern "C" {
        #[link_name = "reply"]
        fn caxton_reply(performative: u32, ptr: u32, len: u32) -> u32;
        #[link_name = "send"]
        fn caxton_send(to: u64, performative: u32, ptr: u32, len: u32) -> u32;
    }

    pub(crate) fn reply(performative: u32, payload: &[u8]) {
        // SAFETY: the host only reads `len` bytes at `ptr` during the call.
        unsafe { caxton_reply(performative, payload.as_ptr() as u32, payload.len() as u32) };
    }

    pub(crate) fn send(to: u64, performative: u32, payload: &[u8]) {
        // SAFETY: as for `reply`.
        unsafe { caxton_send(to, performative, payload.as_ptr() as u32, payload.len() as u32) };
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(crate) fn reply(_performative: u32, _payload: &[u8]) {}

    pub(crate) fn send(_to: u64, _performative: u32, _payload: &[u8]) {}
}

pub(crate) use imp::{reply, send};
