//! The layers are crates, and their dependencies state the architecture: cargo itself
//! refuses an upward import. This test keeps the edges from growing back.

use std::collections::BTreeSet;
use std::process::Command;

use integration_tests::workspace_root;

/// Every crate `package` depends on (normal dependencies, transitively).
fn dependencies(package: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "-p",
            package,
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn assert_free_of(package: &str, forbidden: &[&str]) {
    let deps = dependencies(package);
    for name in forbidden {
        let found: Vec<&String> = deps
            .iter()
            .filter(|d| {
                d.as_str() == *name
                    || (name.ends_with('*') && d.starts_with(name.trim_end_matches('*')))
            })
            .collect();
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
}

#[test]
fn the_domain_knows_no_aws_and_no_http() {
    assert_free_of(
        "domain",
        &[
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "lambda_http",
            "lambda_runtime",
            "http",
            "hyper",
            "tokio",
            "store",
            "api",
            "adapters",
            "platform",
        ],
    );
}

#[test]
fn the_store_knows_dynamodb_only() {
    assert_free_of(
        "store",
        &[
            "aws-sdk-sns",
            "aws-sdk-secretsmanager",
            "lambda_http",
            "lambda_runtime",
            "api",
            "adapters",
            "platform",
        ],
    );
}

#[test]
fn adapters_know_neither_the_table_nor_http() {
    assert_free_of(
        "adapters",
        &[
            "aws-sdk-dynamodb",
            "lambda_http",
            "lambda_runtime",
            "store",
            "api",
            "platform",
        ],
    );
}

#[test]
fn the_http_edge_sends_no_sms_and_reads_no_secrets() {
    assert_free_of(
        "api",
        &[
            "aws-sdk-sns",
            "aws-sdk-secretsmanager",
            "adapters",
            "platform",
        ],
    );
}

/// The first path segment of each item in `crate::x`, `crate::{x, y::z}`.
fn heads(after: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    match after.strip_prefix('{') {
        Some(list) => {
            let (mut depth, mut end) = (1, list.len());
            for (i, c) in list.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            list[..end]
                .split(',')
                .map(ident)
                .filter(|s| !s.is_empty())
                .collect()
        }
        None => vec![ident(after)],
    }
}

/// Module → modules it imports, for one crate's top-level modules. A name the crate
/// root re-exports (`pub use m::Name`) counts as an import of `m`.
fn module_graph(src: &std::path::Path) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut exported_by = std::collections::BTreeMap::new();
    for line in lib.lines() {
        if let Some(rest) = line.trim().strip_prefix("pub use ")
            && let Some((module, names)) = rest.split_once("::")
        {
            for name in heads(names) {
                exported_by.insert(name, module.to_owned());
            }
        }
    }
    let mut graph = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if module == "lib" || module == "main" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Test modules may import anything.
        let text = text.split("#[cfg(test)]").next().unwrap();
        let mut edges = BTreeSet::new();
        for marker in ["crate::", "super::"] {
            for (i, _) in text.match_indices(marker) {
                for head in heads(&text[i + marker.len()..]) {
                    let target = exported_by.get(&head).cloned().unwrap_or(head);
                    if target != module && src.join(format!("{target}.rs")).exists() {
                        edges.insert(target);
                    }
                }
            }
        }
        graph.insert(module, edges);
    }
    graph
}

fn find_cycle(graph: &std::collections::BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let shared = workspace_root().join("shared");
    let mut crates = 0;
    for entry in std::fs::read_dir(&shared).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.join("lib.rs").exists() {
            continue;
        }
        crates += 1;
        let graph = module_graph(&src);
        assert!(
            find_cycle(&graph).is_none(),
            "{}: import cycle {:?}",
            src.display(),
            find_cycle(&graph)
        );
    }
    assert!(crates >= 5, "found {crates} crates under shared/");
    // The graph sees real edges, including names the root re-exports.
    let store = module_graph(&shared.join("store/src"));
    assert!(store["profiles"].contains("profile_item"), "{store:?}");
    let domain = module_graph(&shared.join("domain/src"));
    assert!(domain["ports"].contains("otp"), "{domain:?}");
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let graph = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_owned(), BTreeSet::from([to.to_owned()])))
        .collect();
    assert_eq!(find_cycle(&graph).unwrap().len(), 4);
}
