//! The runtime's modules depend on each other one way (docs/architecture.md,
//! "Module layering"): no `crate::` path in `src/` closes a circle. The
//! full check, which also counts methods with the type they belong to, is
//! `cargo modules dependencies` (see the docs); this one needs no tool.

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
        let text = std::fs::read_to_string(&path).unwrap();
        let mut uses = BTreeSet::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                // A lower-case segment followed by `::` is a module, and so
                // is one named like a file of `src/` (`use crate::m;`).
                let is_module = rest[name.len()..].starts_with("::") || src.join(format!("{name}.rs")).is_file();
                if !name.is_empty() && is_module && name != module {
                    uses.insert(name);
                }
            }
        }
        graph.insert(module.to_owned(), uses);
    }
    graph
}

/// A circle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        node: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(graph, start, &mut Vec::new(), &mut done))
}

#[test]
fn modules_depend_on_each_other_one_way() {
    let graph = module_graph();
    // The layering the docs describe, spot-checked.
    assert!(graph["task"].contains("orchestrator"));
    assert!(!graph["orchestrator"].contains("task"), "{:?}", graph["orchestrator"]);
    assert!(!graph["orchestrator"].contains("agent"));
    assert!(!graph["spec"].contains("agent"));
    assert_eq!(find_cycle(&graph), None, "{graph:#?}");
}

#[test]
fn a_circle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(m, u)| (m.to_owned(), BTreeSet::from([u.to_owned()])))
        .collect();
    assert_eq!(find_cycle(&graph).map(|c| c.len()), Some(4));
}
