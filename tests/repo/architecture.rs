//! The layers of docs/ARCHITECTURE.md, kept: each top-level part of `src/` uses only the
//! parts its row allows, inside the TUI the state and the layout never use the view, no two
//! modules of one parent use each other (even round a longer loop), and only the modules that
//! own a database name its driver. Files are read with `syn`: grouped,
//! relative and renamed imports count; comments and test code (`#[cfg(test)]`, `#[test]`,
//! `tests` files) are not code the layers bind.

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
    ("web", &[]),
    ("browser", &[]),
    ("partner", &["money", "protocol"]),
    ("sandbox", &["partner", "money", "protocol", "web"]),
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
            "ledger", "store", "protocol", "search", "metrics", "partner", "web",
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

pub(crate) fn rust_files(root: &Path) -> Vec<PathBuf> {
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

/// Whether a file holds only tests (a `tests` directory or a `tests.rs`).
pub(crate) fn is_tests(path: &Path) -> bool {
    path.components()
        .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "tests.rs")
}

/// The module a file under `src/` is: `src/tui/state/mod.rs` is `tui::state`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut module: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        module.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        module.pop();
    }
    module
}

/// Every path the code outside tests names, resolved as far as the file says: quid's own as
/// `crate::...` (relative ones and those through a `use` or a `mod` of the file included),
/// anything else from its first name (an external crate, `std`, a type).
fn paths_named(source: &str, module: Vec<String>) -> BTreeSet<Vec<String>> {
    let file = syn::parse_file(source).expect("the file parses");
    let mut bindings = Bindings {
        module: module.clone(),
        names: BTreeMap::new(),
    };
    syn::visit::Visit::visit_file(&mut bindings, &file);
    let mut named = Named {
        module,
        names: bindings.names,
        paths: BTreeSet::new(),
    };
    syn::visit::Visit::visit_file(&mut named, &file);
    named.paths
}

/// Whether attributes mark test code: `#[cfg(test)]` (also inside `all(...)`) or `#[test]`.
pub(crate) fn is_test_code(attrs: &[syn::Attribute]) -> bool {
    use syn::__private::ToTokens;
    attrs.iter().any(|attr| {
        attr.path().is_ident("test")
            || (attr.path().is_ident("cfg")
                && attr.meta.to_token_stream().to_string().contains("test"))
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item;
    match item {
        Item::Mod(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::Const(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        _ => &[],
    }
}

/// Each `use` tree as the paths it names, with the name each binds (`None` for a glob).
fn expand(tree: &syn::UseTree, prefix: &[String], out: &mut Vec<(Vec<String>, Option<String>)>) {
    use syn::UseTree;
    let with = |name: &syn::Ident| {
        let mut path = prefix.to_vec();
        path.push(name.to_string());
        path
    };
    match tree {
        UseTree::Path(p) => expand(&p.tree, &with(&p.ident), out),
        UseTree::Name(n) if n.ident == "self" => {
            out.push((prefix.to_vec(), prefix.last().cloned()));
        }
        UseTree::Name(n) => out.push((with(&n.ident), Some(n.ident.to_string()))),
        UseTree::Rename(r) if r.ident == "self" => {
            out.push((prefix.to_vec(), Some(r.rename.to_string())));
        }
        UseTree::Rename(r) => out.push((with(&r.ident), Some(r.rename.to_string()))),
        UseTree::Glob(_) => out.push((prefix.to_vec(), None)),
        UseTree::Group(g) => {
            for tree in &g.items {
                expand(tree, prefix, out);
            }
        }
    }
}

/// `path` as seen from `module`: `crate::`, `self::` and `super::` made absolute, a first
/// name the file binds (`use`, `mod`) replaced by what it binds; anything else as written.
fn resolve(
    module: &[String],
    names: &BTreeMap<String, Vec<String>>,
    path: &[String],
) -> Vec<String> {
    let Some(first) = path.first() else {
        return Vec::new();
    };
    let crate_root = vec!["crate".to_owned()];
    let (mut absolute, rest) = match first.as_str() {
        "crate" => (crate_root, &path[1..]),
        "self" => ([crate_root, module.to_vec()].concat(), &path[1..]),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let parent = &module[..module.len().saturating_sub(ups)];
            ([crate_root, parent.to_vec()].concat(), &path[ups..])
        }
        name => match names.get(name) {
            Some(bound) => (bound.clone(), &path[1..]),
            None => return path.to_vec(),
        },
    };
    absolute.extend(rest.iter().cloned());
    absolute
}

/// First pass: the names a file's `use`s and `mod`s bind, to their absolute paths.
struct Bindings {
    module: Vec<String>,
    names: BTreeMap<String, Vec<String>>,
}

impl<'ast> syn::visit::Visit<'ast> for Bindings {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_code(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let mut path = vec!["crate".to_owned()];
        path.extend(self.module.iter().cloned());
        path.push(item.ident.to_string());
        self.names.insert(item.ident.to_string(), path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        let leading = item.leading_colon.is_some();
        expand(&item.tree, &[], &mut paths);
        for (path, bound) in paths {
            let Some(name) = bound else { continue };
            let target = if leading {
                path
            } else {
                resolve(&self.module, &self.names, &path)
            };
            self.names.insert(name, target);
        }
    }
}

/// Second pass: every path the code names, resolved.
struct Named {
    module: Vec<String>,
    names: BTreeMap<String, Vec<String>>,
    paths: BTreeSet<Vec<String>>,
}

impl<'ast> syn::visit::Visit<'ast> for Named {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_code(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if let Some((_, items)) = &item.content {
            self.module.push(item.ident.to_string());
            for inner in items {
                self.visit_item(inner);
            }
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        expand(&item.tree, &[], &mut paths);
        for (path, _) in paths {
            let resolved = match item.leading_colon {
                Some(_) => path,
                None => resolve(&self.module, &BTreeMap::new(), &path),
            };
            self.paths.insert(resolved);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            let resolved = match path.leading_colon {
                Some(_) => segments,
                None => resolve(&self.module, &self.names, &segments),
            };
            self.paths.insert(resolved);
        }
        syn::visit::visit_path(self, path);
    }
}

/// The code outside tests of each file of `part`, with the paths it names.
fn files_of(src: &Path, part: &str) -> Vec<(PathBuf, BTreeSet<Vec<String>>)> {
    let root = match src.join(part).is_dir() {
        true => src.join(part),
        false => src.join(format!("{part}.rs")),
    };
    assert!(root.exists(), "no part {part} in src/");
    rust_files(&root)
        .into_iter()
        .filter(|file| !is_tests(file))
        .map(|file| {
            let source = std::fs::read_to_string(&file).unwrap();
            let named = paths_named(&source, module_of(src, &file));
            (file, named)
        })
        .collect()
}

pub(crate) fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level parts of quid a file's paths reach: `crate::store::...` gives `store`.
fn parts_used(paths: &BTreeSet<Vec<String>>) -> BTreeSet<String> {
    let parts: BTreeSet<&str> = LAYERS.iter().map(|(part, _)| *part).collect();
    paths
        .iter()
        .filter(|path| path.first().is_some_and(|first| first == "crate"))
        .filter_map(|path| path.get(1))
        .filter(|part| parts.contains(part.as_str()) || *part == "cli")
        .cloned()
        .collect()
}

#[test]
fn each_part_uses_only_the_parts_below_it() {
    let src = src();
    let mut breaches: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (part, allowed) in LAYERS {
        for (file, paths) in files_of(&src, part) {
            for used in parts_used(&paths) {
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

/// The files that own a database and may name its driver: the server's store, the session's
/// state, the secret store, and the payments benchmark's baseline (a bare ledger on each
/// database, by design).
const DATABASE_OWNERS: &[&str] = &[
    "store/",
    "session/state.rs",
    "secret/vault.rs",
    "secret/opened.rs",
    "secret/outbox.rs",
    "secret/store.rs",
    "bench/payments.rs",
];

#[test]
fn only_the_modules_that_own_a_database_name_its_driver() {
    let src = src();
    let mut breaches = BTreeMap::new();
    for (part, _) in LAYERS {
        for (file, paths) in files_of(&src, part) {
            let shown = file.strip_prefix(&src).unwrap().display().to_string();
            if DATABASE_OWNERS.iter().any(|owner| shown.starts_with(owner)) {
                continue;
            }
            let drivers: BTreeSet<String> = paths
                .iter()
                .filter_map(|path| path.first())
                .filter(|first| {
                    ["rusqlite", "postgres", "tokio_postgres"].contains(&first.as_str())
                })
                .cloned()
                .collect();
            if !drivers.is_empty() {
                breaches.insert(shown, drivers);
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "database drivers named outside the store (go through the store's own API): {breaches:#?}"
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
    let src = src();
    for part in ["tui/state", "tui/layout", "tui/timeline"] {
        for (file, paths) in files_of(&src, part) {
            let view = paths
                .iter()
                .find(|path| path.starts_with(&crate_path("tui::view")));
            assert!(
                view.is_none(),
                "{} uses the view ({view:?})",
                file.display()
            );
        }
    }
}

fn crate_path(path: &str) -> Vec<String> {
    std::iter::once("crate")
        .chain(path.split("::"))
        .map(str::to_owned)
        .collect()
}

/// The reader itself: what the old text search missed is found.
#[test]
fn the_reader_sees_grouped_relative_and_renamed_paths_and_skips_tests() {
    let module = vec!["tui".to_owned(), "state".to_owned(), "timeline".to_owned()];
    let named = paths_named(
        "use crate::{ledger, store::{self as db, writer}};\n\
         use super::super::view::Screen;\n\
         fn f() { ::postgres::Client::is_closed(); db::open(); rusqlite::params![]; }\n\
         #[cfg(test)] mod tests { use crate::server::Server; }",
        module,
    );
    for expected in [
        "ledger",
        "store",
        "store::writer",
        "tui::view::Screen",
        "store::open",
    ] {
        assert!(
            named.contains(&crate_path(expected)),
            "{expected} in {named:?}"
        );
    }
    let firsts: BTreeSet<&str> = named
        .iter()
        .filter_map(|p| p.first())
        .map(String::as_str)
        .collect();
    assert!(
        firsts.contains("postgres") && firsts.contains("rusqlite"),
        "{firsts:?}"
    );
    assert!(
        !parts_used(&named).contains("server"),
        "a test module is not code the layers bind"
    );

    // A module of quid's named postgres is not the driver.
    let store_user = paths_named(
        "use crate::store::postgres;\nfn f() { postgres::notify::listen(); }",
        vec!["server".to_owned()],
    );
    assert!(
        store_user
            .iter()
            .all(|p| p.first().is_some_and(|f| f == "crate")),
        "{store_user:?}"
    );
}

/// Every module's file: `tui::state::timeline` is `src/tui/state/timeline.rs`.
fn all_modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    rust_files(src)
        .into_iter()
        .filter(|file| !is_tests(file))
        .map(|file| (module_of(src, &file), file))
        .collect()
}

/// Where two modules of one parent use each other, directly or round a longer loop: for each
/// parent, its children and which of them each one uses.
fn sibling_uses(src: &Path) -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    let modules = all_modules(src);
    let mut uses: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let source = std::fs::read_to_string(file).unwrap();
        for path in paths_named(&source, module.clone()) {
            if path.first().is_none_or(|first| first != "crate") {
                continue;
            }
            let target = &path[1..];
            let shared = module
                .iter()
                .zip(target)
                .take_while(|(a, b)| a == b)
                .count();
            let (Some(from), Some(to)) = (module.get(shared), target.get(shared)) else {
                continue;
            };
            let parent = module[..shared].to_vec();
            let mut child = parent.clone();
            child.push(to.clone());
            if modules.contains_key(&child) {
                uses.entry(parent)
                    .or_default()
                    .entry(from.clone())
                    .or_default()
                    .insert(to.clone());
            }
        }
    }
    uses
}

/// The modules of a loop in `uses`, if there is one.
fn a_loop(uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in uses.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, uses, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    uses.keys()
        .find_map(|node| visit(node, uses, &mut Vec::new(), &mut done))
}

/// No two modules of one parent use each other, even round a longer loop: a reader can learn
/// the tree one module at a time, from the ones that use nothing of their siblings.
#[test]
fn no_module_loops_through_its_siblings() {
    let loops: Vec<String> = sibling_uses(&src())
        .iter()
        .filter_map(|(parent, uses)| {
            let found = a_loop(uses)?;
            let prefix = match parent.is_empty() {
                true => String::new(),
                false => format!("{}::", parent.join("::")),
            };
            Some(
                found
                    .iter()
                    .map(|m| format!("{prefix}{m}"))
                    .collect::<Vec<_>>()
                    .join(" -> "),
            )
        })
        .collect();
    assert!(loops.is_empty(), "modules that use each other: {loops:#?}");
}
