//! The guest ABI (see `docs/guest-abi.md`): export and import names, their
//! signatures, and the load-time check that a module conforms.

use wasmtime::{ExternType, FuncType, Module, ValType};

use crate::error::LoadError;

/// The guest's linear memory.
pub const MEMORY: &str = "memory";
/// `(len: i32) -> i32`: a guest buffer of at least `len` bytes for input.
pub const INBOX: &str = "caxton_inbox";
/// `(performative: i32, sender: i64, len: i32) -> i32`: handle a message.
pub const HANDLE: &str = "caxton_handle";
/// `() -> i64`: `len << 32 | ptr` of the state, or `-1` for none (optional).
pub const SNAPSHOT: &str = "caxton_snapshot";
/// `(len: i32) -> i32`: restore state from the inbox (optional).
pub const RESTORE: &str = "caxton_restore";
/// The import module of the host functions.
pub const IMPORT_MODULE: &str = "caxton";
/// `(performative: i32, ptr: i32, len: i32) -> i32`: reply.
pub const REPLY: &str = "reply";
/// `(to: i64, performative: i32, ptr: i32, len: i32) -> i32`: send.
pub const SEND: &str = "send";

/// `caxton_snapshot`'s result when the guest has no state.
pub const NO_STATE: u64 = u64::MAX;

const INBOX_SIG: &str = "(i32) -> (i32)";
const HANDLE_SIG: &str = "(i32, i64, i32) -> (i32)";
const SNAPSHOT_SIG: &str = "() -> (i64)";
const RESTORE_SIG: &str = "(i32) -> (i32)";
const REPLY_SIG: &str = "(i32, i32, i32) -> (i32)";
const SEND_SIG: &str = "(i64, i32, i32, i32) -> (i32)";

fn val(v: &ValType) -> &'static str {
    match v {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::Ref(_) => "ref",
    }
}

fn signature(ty: &FuncType) -> String {
    let params: Vec<_> = ty.params().map(|v| val(&v)).collect();
    let results: Vec<_> = ty.results().map(|v| val(&v)).collect();
    format!("({}) -> ({})", params.join(", "), results.join(", "))
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => format!("func {}", signature(f)),
        ExternType::Memory(_) => "memory".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Global(_) => "global".into(),
        ExternType::Tag(_) => "tag".into(),
    }
}

/// Checks a compiled module against the ABI: only known host imports, all
/// required exports with the right signatures, and both or neither of the
/// checkpoint exports. Returns whether the module has checkpoint exports.
pub(crate) fn check(module: &Module) -> Result<bool, LoadError> {
    for import in module.imports() {
        let expected = match (import.module(), import.name()) {
            (IMPORT_MODULE, REPLY) => REPLY_SIG,
            (IMPORT_MODULE, SEND) => SEND_SIG,
            (m, n) => {
                return Err(LoadError::UnknownImport {
                    module: m.to_owned(),
                    name: n.to_owned(),
                });
            }
        };
        let ty = import.ty();
        let ok = matches!(&ty, ExternType::Func(f) if signature(f) == expected);
        if !ok {
            return Err(LoadError::ImportType {
                name: import.name().to_owned(),
                expected,
                found: describe(&ty),
            });
        }
    }
    match module.get_export(MEMORY) {
        None => return Err(LoadError::MissingExport(MEMORY)),
        Some(ExternType::Memory(_)) => {}
        Some(other) => {
            return Err(LoadError::ExportType {
                name: MEMORY,
                expected: "memory",
                found: describe(&other),
            });
        }
    }
    func(module, INBOX, INBOX_SIG, true)?;
    func(module, HANDLE, HANDLE_SIG, true)?;
    let snapshot = func(module, SNAPSHOT, SNAPSHOT_SIG, false)?;
    let restore = func(module, RESTORE, RESTORE_SIG, false)?;
    match (snapshot, restore) {
        (true, false) => Err(LoadError::MissingExport(RESTORE)),
        (false, true) => Err(LoadError::MissingExport(SNAPSHOT)),
        (both, _) => Ok(both),
    }
}

/// Checks one function export; `Ok(false)` if it is optional and absent.
fn func(module: &Module, name: &'static str, expected: &'static str, required: bool) -> Result<bool, LoadError> {
    match module.get_export(name) {
        None if required => Err(LoadError::MissingExport(name)),
        None => Ok(false),
        Some(ExternType::Func(f)) if signature(&f) == expected => Ok(true),
        Some(other) => Err(LoadError::ExportType {
            name,
            expected,
            found: describe(&other),
        }),
    }
}
