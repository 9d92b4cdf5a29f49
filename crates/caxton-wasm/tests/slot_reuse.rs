//! A reused pool slot starts exactly like a fresh one: an earlier
//! instance's writes and growth never show, whatever order slots are freed,
//! batched for decommit and taken again in (the host's default pooling
//! settings, on its own engine).

use caxton_wasm::{HostConfig, WasmHost};
use wasm_encoder::{ConstExpr, DataSection, ExportKind, ExportSection, MemorySection, MemoryType};
use wasmtime::{Instance, Memory, Module, Store};

const PAGE: usize = 64 << 10;
/// Initial pages of the test module's memory.
const INITIAL: u64 = 2;
/// The data segment's offset and bytes (the memory image).
const IMAGE_AT: usize = PAGE;
const IMAGE: &[u8] = b"the memory image";

/// A module with a two-page memory (up to 16) whose second page starts
/// with [`IMAGE`].
fn module_bytes() -> Vec<u8> {
    let mut module = wasm_encoder::Module::new();
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: INITIAL,
        maximum: Some(16),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    module.section(&exports);
    let mut data = DataSection::new();
    data.active(0, &ConstExpr::i32_const(IMAGE_AT as i32), IMAGE.iter().copied());
    module.section(&data);
    module.finish()
}

fn memory(store: &mut Store<()>, instance: &Instance) -> Memory {
    instance.get_memory(&mut *store, "memory").expect("memory export")
}

/// Panics unless `mem` is exactly the module's initial memory.
fn assert_pristine(store: &Store<()>, mem: Memory, cycle: usize, slot: usize) {
    let data = mem.data(store);
    assert_eq!(
        data.len(),
        INITIAL as usize * PAGE,
        "cycle {cycle}, instance {slot}: size"
    );
    let image = IMAGE_AT..IMAGE_AT + IMAGE.len();
    assert_eq!(&data[image.clone()], IMAGE, "cycle {cycle}, instance {slot}: image");
    let stray = data.iter().enumerate().find(|(i, b)| !image.contains(i) && **b != 0);
    assert!(stray.is_none(), "cycle {cycle}, instance {slot}: stray byte {stray:?}");
}

#[test]
fn a_reused_slot_never_shows_an_earlier_instances_memory() {
    const SLOTS: u32 = 8;
    let host = WasmHost::new(HostConfig {
        no_disk_cache: true,
        ..HostConfig::pooling(SLOTS, 1 << 20)
    })
    .expect("host");
    let module = Module::new(host.engine(), module_bytes()).expect("module");
    for cycle in 0..6 {
        // Fill the pool (fewer slots than a decommit batch: every slot
        // freed last cycle is still queued, so taking them flushes it).
        let mut live = Vec::new();
        for slot in 0..SLOTS as usize {
            let mut store = Store::new(host.engine(), ());
            let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
            let mem = memory(&mut store, &instance);
            assert_pristine(&store, mem, cycle, slot);
            // Dirty everything, image included, and grow: the next user of
            // this slot must see none of it.
            mem.grow(&mut store, 2).expect("grow");
            mem.data_mut(&mut store).fill(0xa5);
            live.push(store);
        }
        // Free in a different order each cycle.
        if cycle % 2 == 1 {
            live.reverse();
        }
        drop(live);
        // And one instance alone between cycles: a single free slot.
        let mut store = Store::new(host.engine(), ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
        let mem = memory(&mut store, &instance);
        assert_pristine(&store, mem, cycle, usize::MAX);
        mem.data_mut(&mut store).fill(0x5a);
    }
}
