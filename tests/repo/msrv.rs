//! The Rust version quid says it needs is the one its locked dependencies need: no lower (a
//! user of that toolchain could not build), no higher (it would turn users away for nothing).
//! quid's own code is held to it by clippy's `incompatible_msrv` lint, which reads
//! `rust-version` (CI runs clippy with warnings as errors). No second toolchain can be
//! fetched here, so the check reads what each crate declares instead of compiling with it.

use std::process::Command;

fn version(text: &str) -> (u32, u32) {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn the_stated_rust_version_is_what_the_locked_dependencies_need() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let (neediest, needed) = packages
        .iter()
        .filter(|p| p["name"] != "quid")
        .filter_map(|p| Some((p["name"].as_str()?, version(p["rust_version"].as_str()?))))
        .max_by_key(|(_, v)| *v)
        .expect("dependencies declare a rust-version");
    let stated = version(env!("CARGO_PKG_RUST_VERSION"));
    assert_eq!(
        stated, needed,
        "Cargo.toml says rust-version {stated:?}; {neediest} needs {needed:?}"
    );
    let readme = include_str!("../../README.md");
    let said = format!("Rust toolchain ({}.{} or newer", needed.0, needed.1);
    assert!(readme.contains(&said), "the README should say {said:?}");
}
