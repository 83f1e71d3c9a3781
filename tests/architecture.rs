//! The layers of docs/ARCHITECTURE.md, kept: each top-level part of `src/` uses only the
//! parts its row allows, and inside the TUI the state and the layout never use the view.
//! Comments and `#[cfg(test)]` modules are not code the layers bind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// (part, the parts it may use), as the table in docs/ARCHITECTURE.md.
const LAYERS: &[(&str, &[&str])] = &[
    ("money", &[]),
    ("search", &[]),
    ("metrics", &[]),
    ("tls", &[]),
    ("untrusted", &[]),
    ("logging", &[]),
    ("text_position", &[]),
    ("http", &[]),
    ("browser", &[]),
    ("partner", &["money", "protocol"]),
    ("sandbox", &["partner", "money", "protocol", "http"]),
    ("secret", &["protocol"]),
    ("protocol", &["money"]),
    ("export", &["money", "protocol"]),
    ("store", &["money", "protocol", "search", "metrics"]),
    ("session", &["protocol", "tls", "secret"]),
    ("bot", &["money", "protocol", "session", "secret"]),
    ("ledger", &["money", "protocol", "store", "partner"]),
    (
        "server",
        &[
            "ledger", "store", "protocol", "search", "metrics", "partner", "http",
        ],
    ),
    ("config", &["protocol", "tls", "text_position"]),
    (
        "tui",
        &[
            "config",
            "session",
            "protocol",
            "money",
            "search",
            "export",
            "untrusted",
            "text_position",
            "secret",
            "browser",
        ],
    ),
    (
        "demo",
        &[
            "server", "tui", "bot", "session", "config", "store", "ledger", "protocol", "money",
            "logging", "partner", "sandbox",
        ],
    ),
    (
        "bench",
        &[
            "server", "tui", "session", "store", "ledger", "protocol", "money",
        ],
    ),
];

fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if root.is_file() {
        files.push(root.to_owned());
    } else if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// A file's code: without comments, tests (files of them, or its `#[cfg(test)]` module).
fn code_of(path: &Path) -> String {
    let is_tests = path
        .components()
        .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "tests.rs");
    if is_tests {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The parts of quid `code` names: `crate::store::...` gives `store`.
fn parts_used(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|part| !part.is_empty())
        .collect()
}

#[test]
fn each_part_uses_only_the_parts_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (part, allowed) in LAYERS {
        let root = match src.join(part).is_dir() {
            true => src.join(part),
            false => src.join(format!("{part}.rs")),
        };
        assert!(root.exists(), "no part {part} in src/");
        for file in rust_files(&root) {
            for used in parts_used(&code_of(&file)) {
                if used != *part && !allowed.contains(&used.as_str()) {
                    let shown = file.strip_prefix(&src).unwrap().display().to_string();
                    breaches.entry(shown).or_default().insert(used);
                }
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "files that reach past their layer (docs/ARCHITECTURE.md, Layers): {breaches:#?}"
    );
}

#[test]
fn every_part_of_src_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known: BTreeSet<&str> = LAYERS.iter().map(|(part, _)| *part).collect();
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let name = entry
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if ["lib", "main", "cli"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            known.contains(name.as_str()),
            "src/{name} has no row in LAYERS"
        );
    }
}

#[test]
fn the_tui_state_and_layout_never_use_the_view() {
    let tui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui");
    for part in ["state", "layout"] {
        for file in rust_files(&tui.join(part)) {
            let code = code_of(&file);
            for view in ["crate::tui::view", "super::view", "super::super::view"] {
                assert!(
                    !code.contains(view),
                    "{} uses the view ({view})",
                    file.display()
                );
            }
        }
    }
}
