//! The crate's modules depend on each other one way: `node` on top;
//! `failover` below it, `durable` and `directory` below that; then `store`, `recipe`,
//! `error`; `wire`, `subjects` and `testing` use no other module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module -> the modules its code (comments left out) names as `crate::m`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if module == "lib" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let mut uses = BTreeSet::new();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    uses.insert(name);
                }
            }
        }
        graph.insert(module.to_owned(), uses);
    }
    graph
}

#[test]
fn modules_depend_one_way() {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let expected = BTreeMap::from([
        (
            "node".to_owned(),
            set(&[
                "directory",
                "durable",
                "error",
                "failover",
                "recipe",
                "store",
                "subjects",
                "wire",
            ]),
        ),
        ("failover".to_owned(), set(&["directory", "durable", "recipe", "store"])),
        ("durable".to_owned(), set(&["store", "subjects", "wire"])),
        ("directory".to_owned(), set(&["store"])),
        ("store".to_owned(), set(&["recipe", "subjects", "wire"])),
        ("recipe".to_owned(), set(&["error"])),
        ("error".to_owned(), set(&["subjects", "wire"])),
        ("subjects".to_owned(), set(&[])),
        ("testing".to_owned(), set(&[])),
        ("wire".to_owned(), set(&[])),
    ]);
    assert_eq!(module_graph(), expected);
}
