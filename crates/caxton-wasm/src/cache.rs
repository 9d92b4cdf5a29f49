//! Compiled-module cache: in memory for the host's lifetime (bounded, least
//! recently used out first), and on disk (serialized artifacts) between
//! runs (bounded in bytes, oldest out first).
//!
//! Entries are keyed by SHA-256 over the engine's compatibility hash (the
//! settings that affect compiled code) and the module bytes. Loading an
//! artifact from disk loads native code, so the disk cache is guarded:
//!
//! * the directory must be a real directory (not a symbolic link) owned by
//!   the effective uid and not writable by group or others; it is created
//!   with mode 0700 ([`DiskCache::open`]);
//! * each file starts with a header (magic, format version, the entry's key
//!   and the SHA-256 of the artifact); a file is deserialized only if it is
//!   a regular file owned by us (opened without following symbolic links),
//!   its header names the key being looked up and the artifact's digest
//!   matches. Anything else is deleted and the module recompiled, so a
//!   corrupt, truncated or substituted file (another module's artifact
//!   copied over this one's) is never run;
//! * files are written to a fresh temporary file (`O_EXCL`, mode 0600) and
//!   renamed into place, so readers never see a partial file.

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use crate::error::{HostError, LoadError};

/// Where a loaded module came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleOrigin {
    /// Compiled by this call.
    Compiled,
    /// Found in this host's in-memory cache.
    Memory,
    /// Deserialized from the on-disk cache.
    Disk,
}

/// A cache key: SHA-256 of the engine's compatibility hash and the bytes.
pub(crate) type Key = [u8; 32];

/// Feeds `std::hash::Hash` output into a SHA-256 digest, so a value that
/// only implements `Hash` (the engine's compatibility hash) is digested
/// whole rather than folded into 64 bits. `finish` is never used.
struct DigestHasher<'a>(&'a mut Sha256);

impl Hasher for DigestHasher<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}

pub(crate) struct ModuleCache {
    /// The digest state after the domain tag and the engine's hash.
    engine_digest: Sha256,
    memory: Mutex<MemoryCache>,
    disk: Option<DiskCache>,
}

/// The in-memory cache: at most `capacity` modules, least recently used
/// evicted first.
struct MemoryCache {
    capacity: usize,
    clock: u64,
    entries: HashMap<Key, (Module, u64)>,
}

impl MemoryCache {
    fn get(&mut self, key: &Key) -> Option<Module> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(m, used)| {
            *used = clock;
            m.clone()
        })
    }

    fn insert(&mut self, key: Key, module: Module) {
        if self.capacity == 0 {
            return;
        }
        self.clock += 1;
        self.entries.insert(key, (module, self.clock));
        while self.entries.len() > self.capacity {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k) else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

impl ModuleCache {
    /// A cache for `engine`'s modules holding at most `memory_entries` in
    /// memory, and using `disk` if given.
    pub(crate) fn new(engine: &Engine, memory_entries: usize, disk: Option<DiskCache>) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"caxton-wasm module cache key v1\0");
        engine
            .precompile_compatibility_hash()
            .hash(&mut DigestHasher(&mut digest));
        Self {
            engine_digest: digest,
            memory: Mutex::new(MemoryCache {
                capacity: memory_entries,
                clock: 0,
                entries: HashMap::new(),
            }),
            disk,
        }
    }

    /// The cache key of `bytes` for this engine.
    pub(crate) fn key(&self, bytes: &[u8]) -> Key {
        let mut digest = self.engine_digest.clone();
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(bytes);
        digest.finalize().into()
    }

    /// The module under `key` in the in-memory cache (marking it used).
    pub(crate) fn get_memory(&self, key: &Key) -> Option<Module> {
        self.lock().get(key)
    }

    /// The module under `key` in the disk cache, if a file there passes
    /// every check (see the module docs); a file that fails one is deleted.
    pub(crate) fn get_disk(&self, engine: &Engine, key: &Key) -> Option<Module> {
        self.disk.as_ref()?.read(engine, key)
    }

    /// Caches a module that passed every load check: in memory, and on disk
    /// too if `write_disk` (it was compiled, not read from there).
    pub(crate) fn insert(&self, key: Key, module: &Module, write_disk: bool) {
        self.lock().insert(key, module.clone());
        if write_disk && let Some(disk) = &self.disk {
            disk.write(&key, module);
        }
    }

    /// How many modules the in-memory cache holds.
    pub(crate) fn memory_len(&self) -> usize {
        self.lock().entries.len()
    }

    /// The disk cache directory, if any.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.disk.as_ref().map(|d| d.dir.as_path())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryCache> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Compiles `bytes` (validating them).
pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> Result<Module, LoadError> {
    Module::new(engine, bytes).map_err(|e| LoadError::Malformed(format!("{e}")))
}

/// Start of every cache file.
const MAGIC: &[u8; 8] = b"CXWASMC\0";
/// Version of the file layout below.
const FORMAT_VERSION: u32 = 1;
/// Magic, version (u32 LE), key, SHA-256 of the artifact.
const HEADER_LEN: usize = 8 + 4 + 32 + 32;
/// Temporary files older than this are left-overs of a crashed writer.
const STALE_TMP: Duration = Duration::from_secs(3600);

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn hex(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The on-disk cache: a checked directory of `<hex key>.cwasm` files.
pub(crate) struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    euid: u32,
}

impl DiskCache {
    /// Opens (creating it, and missing parents, with mode 0700) the cache
    /// directory `dir`, refusing one that is a symbolic link, not a
    /// directory, owned by another uid than the effective one, or writable
    /// by group or others.
    pub(crate) fn open(dir: PathBuf, max_bytes: u64) -> Result<Self, HostError> {
        let io = |dir: &Path| {
            let path = dir.to_path_buf();
            move |source| HostError::CacheDir { path, source }
        };
        match std::fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .map_err(io(&dir))?;
            }
            Err(e) => return Err(io(&dir)(e)),
            Ok(_) => {}
        }
        let meta = std::fs::symlink_metadata(&dir).map_err(io(&dir))?;
        let euid = effective_uid();
        if meta.file_type().is_symlink() {
            return Err(HostError::CacheDirSymlink { path: dir });
        }
        if !meta.is_dir() {
            return Err(HostError::CacheDirNotDirectory { path: dir });
        }
        if meta.uid() != euid {
            return Err(HostError::CacheDirOwner {
                path: dir,
                owner: meta.uid(),
                euid,
            });
        }
        if meta.mode() & 0o022 != 0 {
            return Err(HostError::CacheDirWritable {
                path: dir,
                mode: meta.mode() & 0o7777,
            });
        }
        Ok(Self { dir, max_bytes, euid })
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(format!("{}.cwasm", hex(key)))
    }

    fn read(&self, engine: &Engine, key: &Key) -> Option<Module> {
        let path = self.path(key);
        // No symlinks; O_NONBLOCK so that a planted FIFO cannot block us
        // (it does nothing for a regular file).
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(_) => return discard(&path),
        };
        let Some(bytes) = self.read_checked(&file) else {
            return discard(&path);
        };
        let Some(artifact) = verify(&bytes, key) else {
            return discard(&path);
        };
        // Read in full, into memory (rather than mapping the file), so a
        // file replaced or truncated later cannot change a live module.
        // SAFETY: `Module::deserialize` trusts its input to be an artifact
        // that wasmtime produced. These bytes are: they come from a regular
        // file owned by this uid in a directory only this uid can write
        // (checked in `open`), their header names exactly the key of the
        // module bytes being loaded under this engine's settings, and the
        // artifact's SHA-256 matches the header, so this is the artifact this
        // cache serialized for these bytes, unaltered. wasmtime also checks
        // its own header and that it matches this engine's configuration.
        let module = match unsafe { Module::deserialize(engine, artifact) } {
            Ok(module) => module,
            Err(_) => return discard(&path),
        };
        // Mark the file used, so that eviction drops the least recently
        // used files first. Best effort.
        let _ = file.set_modified(SystemTime::now());
        Some(module)
    }

    /// Reads `file` if it is a regular file owned by us, writable only by
    /// us, and no larger than the cache may hold.
    fn read_checked(&self, mut file: &File) -> Option<Vec<u8>> {
        let meta = file.metadata().ok()?;
        let ok = meta.is_file()
            && meta.uid() == self.euid
            && meta.mode() & 0o022 == 0
            && meta.len() >= HEADER_LEN as u64
            && meta.len() <= self.max_bytes.max(HEADER_LEN as u64);
        if !ok {
            return None;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).ok()?);
        file.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    /// Writes `module`'s artifact under `key` (atomically, via a fresh
    /// temporary file), then trims the directory to its byte bound. Best
    /// effort: a failed write only costs a recompile next run.
    fn write(&self, key: &Key, module: &Module) {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let Ok(artifact) = module.serialize() else { return };
        if (HEADER_LEN + artifact.len()) as u64 > self.max_bytes {
            return;
        }
        let mut data = Vec::with_capacity(HEADER_LEN + artifact.len());
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        data.extend_from_slice(key);
        data.extend_from_slice(&Sha256::digest(&artifact));
        data.extend_from_slice(&artifact);
        let path = self.path(key);
        let tmp = self.dir.join(format!(
            ".{}.{}-{}.tmp",
            hex(key),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&data));
        if written.is_err() || std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
            return;
        }
        self.evict();
    }

    /// Deletes the least recently used artifacts until the directory's
    /// artifacts fit in `max_bytes`, and stale temporary files.
    fn evict(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut files = Vec::new();
        let mut total = 0u64;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            // Does not follow symbolic links.
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.ends_with(".tmp") {
                if now.duration_since(modified).is_ok_and(|age| age > STALE_TMP) {
                    let _ = std::fs::remove_file(entry.path());
                }
            } else if name.ends_with(".cwasm") {
                total += meta.len();
                files.push((modified, meta.len(), entry.path()));
            }
        }
        if total <= self.max_bytes {
            return;
        }
        files.sort_by_key(|(modified, _, _)| *modified);
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// The artifact in a cache file's `bytes`, if its header is this format's
/// and names `key`, and the artifact's SHA-256 matches the header.
fn verify<'a>(bytes: &'a [u8], key: &Key) -> Option<&'a [u8]> {
    let (header, artifact) = bytes.split_at_checked(HEADER_LEN)?;
    let (magic, rest) = header.split_at(MAGIC.len());
    let (version, rest) = rest.split_at(4);
    let (stored_key, digest) = rest.split_at(32);
    let ok = magic == MAGIC
        && version == FORMAT_VERSION.to_le_bytes()
        && stored_key == key
        && digest == Sha256::digest(artifact).as_slice();
    ok.then_some(artifact)
}

/// Deletes a cache file that failed a check (so that a fresh one can be
/// written), and reports a miss.
fn discard(path: &Path) -> Option<Module> {
    let _ = std::fs::remove_file(path);
    None
}
