//! Hand-assembled guest modules (with `wasm-encoder`) for the load and
//! cache tests: a minimal ABI-conforming agent, and variations of it.
#![allow(dead_code)]

use std::borrow::Cow;

use wasm_encoder::{
    CodeSection, CustomSection, ExportKind, ExportSection, Function, FunctionSection, MemorySection, MemoryType,
    Module, RefType, TableSection, TableType, TypeSection, ValType,
};

/// What to put in an assembled module.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Initial sizes (64 KiB pages) of the defined memories; the first is
    /// exported as `memory`.
    pub memories: Vec<u64>,
    /// Initial sizes (elements) of the defined `funcref` tables.
    pub tables: Vec<u64>,
    /// Export `caxton_inbox`.
    pub inbox: bool,
    /// Export `caxton_handle` (with the right signature unless
    /// `bad_handle`).
    pub handle: bool,
    /// `caxton_handle` returns `i64` instead of `i32`.
    pub bad_handle: bool,
    /// `caxton_inbox`'s body does not type-check (compiling fails).
    pub broken_body: bool,
    /// Bytes of a custom section, to make otherwise equal modules distinct.
    pub salt: Vec<u8>,
}

impl Default for Spec {
    /// A valid agent: one page of memory, both required exports.
    fn default() -> Self {
        Self {
            memories: vec![1],
            tables: Vec::new(),
            inbox: true,
            handle: true,
            bad_handle: false,
            broken_body: false,
            salt: Vec::new(),
        }
    }
}

impl Spec {
    /// The module's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32], [ValType::I32]);
        types
            .ty()
            .function([ValType::I32, ValType::I64, ValType::I32], [ValType::I32]);
        types
            .ty()
            .function([ValType::I32, ValType::I64, ValType::I32], [ValType::I64]);
        module.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        funcs.function(if self.bad_handle { 2 } else { 1 });
        module.section(&funcs);
        if !self.tables.is_empty() {
            let mut tables = TableSection::new();
            for &minimum in &self.tables {
                tables.table(TableType {
                    element_type: RefType::FUNCREF,
                    table64: false,
                    minimum,
                    maximum: None,
                    shared: false,
                });
            }
            module.section(&tables);
        }
        if !self.memories.is_empty() {
            let mut memories = MemorySection::new();
            for &minimum in &self.memories {
                memories.memory(MemoryType {
                    minimum,
                    maximum: None,
                    memory64: false,
                    shared: false,
                    page_size_log2: None,
                });
            }
            module.section(&memories);
        }
        let mut exports = ExportSection::new();
        if !self.memories.is_empty() {
            exports.export("memory", ExportKind::Memory, 0);
        }
        if self.inbox {
            exports.export("caxton_inbox", ExportKind::Func, 0);
        }
        if self.handle {
            exports.export("caxton_handle", ExportKind::Func, 1);
        }
        module.section(&exports);
        let mut code = CodeSection::new();
        let mut inbox = Function::new([]);
        if self.broken_body {
            inbox.instructions().i64_const(0).end();
        } else {
            inbox.instructions().i32_const(1024).end();
        }
        code.function(&inbox);
        let mut handle = Function::new([]);
        if self.bad_handle {
            handle.instructions().i64_const(0).end();
        } else {
            handle.instructions().i32_const(0).end();
        }
        code.function(&handle);
        module.section(&code);
        if !self.salt.is_empty() {
            module.section(&CustomSection {
                name: Cow::Borrowed("salt"),
                data: Cow::Borrowed(&self.salt),
            });
        }
        module.finish()
    }
}

/// A fresh, empty directory under the target's temporary directory, for
/// one test (`name`) of this process.
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The names of the entries in `dir` (none if it does not exist).
pub fn entries(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}
