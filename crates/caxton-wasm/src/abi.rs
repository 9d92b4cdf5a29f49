//! The guest ABI (see `docs/guest-abi.md`) and the load-time check that a
//! module conforms. The names, signatures and codes are `caxton_abi`'s
//! (re-exported here), shared with the guest SDK.
//!
//! The check runs on the module's bytes before anything is compiled or
//! cached ([`check_bytes`], which also checks the pool's limits), and again
//! on the compiled module ([`check`]); both describe the module as a
//! [`Shape`] and run the same [`Shape::check`].

use wasmparser::{CompositeInnerType, Encoding, ExternalKind, Parser, Payload, TypeRef};
use wasmtime::{ExternType, FuncType, Module, ValType};

use crate::config::Allocator;
use crate::error::LoadError;

pub use caxton_abi::{HANDLE, IMPORT_MODULE, INBOX, MEMORY, NO_STATE, REPLY, RESTORE, SEND, SNAPSHOT, sig, status};

/// The kind (and, for functions, the signature) of an import or export.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Func(String),
    Memory,
    Table,
    Global,
    Tag,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Func(sig) => format!("func {sig}"),
            Kind::Memory => "memory".into(),
            Kind::Table => "table".into(),
            Kind::Global => "global".into(),
            Kind::Tag => "tag".into(),
        }
    }

    fn from_extern(ty: &ExternType) -> Self {
        match ty {
            ExternType::Func(f) => Kind::Func(signature(f)),
            ExternType::Memory(_) => Kind::Memory,
            ExternType::Table(_) => Kind::Table,
            ExternType::Global(_) => Kind::Global,
            ExternType::Tag(_) => Kind::Tag,
        }
    }
}

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

fn parsed_val(v: &wasmparser::ValType) -> &'static str {
    match v {
        wasmparser::ValType::I32 => "i32",
        wasmparser::ValType::I64 => "i64",
        wasmparser::ValType::F32 => "f32",
        wasmparser::ValType::F64 => "f64",
        wasmparser::ValType::V128 => "v128",
        wasmparser::ValType::Ref(_) => "ref",
    }
}

fn format_sig(params: &[&str], results: &[&str]) -> String {
    format!("({}) -> ({})", params.join(", "), results.join(", "))
}

fn signature(ty: &FuncType) -> String {
    let params: Vec<_> = ty.params().map(|v| val(&v)).collect();
    let results: Vec<_> = ty.results().map(|v| val(&v)).collect();
    format_sig(&params, &results)
}

fn parsed_signature(ty: &wasmparser::FuncType) -> String {
    let params: Vec<_> = ty.params().iter().map(parsed_val).collect();
    let results: Vec<_> = ty.results().iter().map(parsed_val).collect();
    format_sig(&params, &results)
}

/// A linear memory a module defines.
#[derive(Clone, Copy, Debug)]
struct DefinedMemory {
    initial_pages: u64,
    page_size_log2: u32,
}

/// What the ABI and limit checks look at: a module's imports and exports,
/// and (when described from bytes) the memories and tables it defines.
#[derive(Debug, Default)]
pub(crate) struct Shape<'a> {
    imports: Vec<(&'a str, &'a str, Kind)>,
    exports: Vec<(&'a str, Kind)>,
    memories: Vec<DefinedMemory>,
    /// Initial sizes (elements) of the defined tables.
    tables: Vec<u64>,
}

fn malformed(e: impl std::fmt::Display) -> LoadError {
    LoadError::Malformed(e.to_string())
}

impl<'a> Shape<'a> {
    /// Describes a compiled module (no defined memories or tables: those
    /// limits were enforced when it was compiled).
    fn of_module(module: &'a Module) -> Self {
        Self {
            imports: module
                .imports()
                .map(|i| (i.module(), i.name(), Kind::from_extern(&i.ty())))
                .collect(),
            exports: module
                .exports()
                .map(|e| (e.name(), Kind::from_extern(&e.ty())))
                .collect(),
            memories: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// Describes a module from its bytes, parsing (not validating) them:
    /// cheap next to compiling, as function bodies are skipped. Bytes that
    /// do not parse are [`LoadError::Malformed`].
    fn parse(bytes: &'a [u8]) -> Result<Self, LoadError> {
        let mut shape = Shape::default();
        // Signatures of the type section's entries (`None`: not a function).
        let mut types: Vec<Option<String>> = Vec::new();
        // Type index of each function (imported ones first).
        let mut funcs: Vec<u32> = Vec::new();
        let mut exports = Vec::new();
        let func_sig = |types: &[Option<String>], index: u32| -> Result<String, LoadError> {
            match types.get(index as usize) {
                Some(Some(sig)) => Ok(sig.clone()),
                Some(None) => Err(malformed(format_args!("type {index} is not a function type"))),
                None => Err(malformed(format_args!("type index {index} out of range"))),
            }
        };
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(malformed)? {
                Payload::Version { encoding, .. } if encoding != Encoding::Module => {
                    return Err(malformed("a component, not a core module"));
                }
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for ty in group.map_err(malformed)?.into_types() {
                            types.push(match &ty.composite_type.inner {
                                CompositeInnerType::Func(f) => Some(parsed_signature(f)),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.map_err(malformed)?;
                        let kind = match import.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                                funcs.push(t);
                                Kind::Func(func_sig(&types, t)?)
                            }
                            TypeRef::Memory(_) => Kind::Memory,
                            TypeRef::Table(_) => Kind::Table,
                            TypeRef::Global(_) => Kind::Global,
                            TypeRef::Tag(_) => Kind::Tag,
                        };
                        shape.imports.push((import.module, import.name, kind));
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        funcs.push(ty.map_err(malformed)?);
                    }
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        shape.tables.push(table.map_err(malformed)?.ty.initial);
                    }
                }
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        let memory = memory.map_err(malformed)?;
                        shape.memories.push(DefinedMemory {
                            initial_pages: memory.initial,
                            page_size_log2: memory.page_size_log2(),
                        });
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        exports.push(export.map_err(malformed)?);
                    }
                }
                _ => {}
            }
        }
        for export in exports {
            let kind = match export.kind {
                ExternalKind::Func | ExternalKind::FuncExact => {
                    let ty = funcs.get(export.index as usize).ok_or_else(|| {
                        malformed(format_args!("export `{}`: no function {}", export.name, export.index))
                    })?;
                    Kind::Func(func_sig(&types, *ty)?)
                }
                ExternalKind::Memory => Kind::Memory,
                ExternalKind::Table => Kind::Table,
                ExternalKind::Global => Kind::Global,
                ExternalKind::Tag => Kind::Tag,
            };
            shape.exports.push((export.name, kind));
        }
        Ok(shape)
    }

    fn export(&self, name: &str) -> Option<&Kind> {
        self.exports.iter().find(|(n, _)| *n == name).map(|(_, k)| k)
    }

    /// Checks the ABI: only known host imports, all required exports with
    /// the right signatures, and both or neither of the checkpoint exports.
    /// Returns whether the module has checkpoint exports.
    fn check(&self) -> Result<bool, LoadError> {
        for (module, name, kind) in &self.imports {
            let expected = match (*module, *name) {
                (IMPORT_MODULE, REPLY) => sig::REPLY,
                (IMPORT_MODULE, SEND) => sig::SEND,
                (m, n) => {
                    return Err(LoadError::UnknownImport {
                        module: m.to_owned(),
                        name: n.to_owned(),
                    });
                }
            };
            if !matches!(kind, Kind::Func(sig) if sig == expected) {
                return Err(LoadError::ImportType {
                    name: (*name).to_owned(),
                    expected,
                    found: kind.describe(),
                });
            }
        }
        match self.export(MEMORY) {
            None => return Err(LoadError::MissingExport(MEMORY)),
            Some(Kind::Memory) => {}
            Some(other) => {
                return Err(LoadError::ExportType {
                    name: MEMORY,
                    expected: "memory",
                    found: other.describe(),
                });
            }
        }
        self.func(INBOX, sig::INBOX, true)?;
        self.func(HANDLE, sig::HANDLE, true)?;
        let snapshot = self.func(SNAPSHOT, sig::SNAPSHOT, false)?;
        let restore = self.func(RESTORE, sig::RESTORE, false)?;
        match (snapshot, restore) {
            (true, false) => Err(LoadError::MissingExport(RESTORE)),
            (false, true) => Err(LoadError::MissingExport(SNAPSHOT)),
            (both, _) => Ok(both),
        }
    }

    /// Checks one function export; `Ok(false)` if it is optional and absent.
    fn func(&self, name: &'static str, expected: &'static str, required: bool) -> Result<bool, LoadError> {
        match self.export(name) {
            None if required => Err(LoadError::MissingExport(name)),
            None => Ok(false),
            Some(Kind::Func(sig)) if sig == expected => Ok(true),
            Some(other) => Err(LoadError::ExportType {
                name,
                expected,
                found: other.describe(),
            }),
        }
    }

    /// Checks the defined memories and tables against the pool's limits.
    fn check_limits(&self, limits: &PoolLimits) -> Result<(), LoadError> {
        let over = |msg: String| Err(LoadError::OverLimits(msg));
        if self.memories.len() > limits.memories as usize {
            return over(format!(
                "defines {} linear memories; a pooled instance holds {} (Allocator::POOL_MEMORIES_PER_MODULE)",
                self.memories.len(),
                limits.memories
            ));
        }
        for (i, memory) in self.memories.iter().enumerate() {
            let min = memory
                .initial_pages
                .checked_shl(memory.page_size_log2)
                .filter(|b| b >> memory.page_size_log2 == memory.initial_pages);
            if min.is_none_or(|bytes| bytes > limits.memory_bytes) {
                return over(format!(
                    "memory {i} starts at {} pages of {} bytes, more than the pool's memory_per_instance of {} bytes",
                    memory.initial_pages,
                    1u64 << memory.page_size_log2,
                    limits.memory_bytes
                ));
            }
        }
        if self.tables.len() > limits.tables as usize {
            return over(format!(
                "defines {} tables; a pooled instance holds {} (Allocator::POOL_TABLES_PER_MODULE)",
                self.tables.len(),
                limits.tables
            ));
        }
        for (i, &initial) in self.tables.iter().enumerate() {
            if initial > limits.table_elements {
                return over(format!(
                    "table {i} starts with {initial} elements, more than the pool's {} per table (Allocator::POOL_TABLE_ELEMENTS)",
                    limits.table_elements
                ));
            }
        }
        Ok(())
    }
}

/// The pooling allocator's per-module limits (see [`Allocator`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolLimits {
    memory_bytes: u64,
    memories: u32,
    tables: u32,
    table_elements: u64,
}

impl PoolLimits {
    /// The limits of `allocator`; `None` for the on-demand allocator.
    pub(crate) fn of(allocator: &Allocator) -> Option<Self> {
        match *allocator {
            Allocator::Pooling {
                memory_per_instance, ..
            } => Some(Self {
                memory_bytes: memory_per_instance as u64,
                memories: Allocator::POOL_MEMORIES_PER_MODULE,
                tables: Allocator::POOL_TABLES_PER_MODULE,
                table_elements: Allocator::POOL_TABLE_ELEMENTS as u64,
            }),
            Allocator::OnDemand => None,
        }
    }
}

/// Checks a module's bytes, before compiling them: that they parse
/// ([`LoadError::Malformed`]), conform to the ABI (as [`check`]) and fit
/// the pool's `limits` ([`LoadError::OverLimits`]). Returns whether the
/// module has checkpoint exports.
pub(crate) fn check_bytes(bytes: &[u8], limits: Option<&PoolLimits>) -> Result<bool, LoadError> {
    let shape = Shape::parse(bytes)?;
    let checkpointable = shape.check()?;
    if let Some(limits) = limits {
        shape.check_limits(limits)?;
    }
    Ok(checkpointable)
}

/// Checks a compiled module against the ABI: only known host imports, all
/// required exports with the right signatures, and both or neither of the
/// checkpoint exports. Returns whether the module has checkpoint exports.
pub(crate) fn check(module: &Module) -> Result<bool, LoadError> {
    Shape::of_module(module).check()
}
