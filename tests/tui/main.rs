//! The TUI end to end: real servers, `quid` in tmux, the screen read back.
//! One test binary: each file here is a module of it, so the suite links a few binaries,
//! not one per file.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod tui_e2e;
mod tui_files_e2e;
mod tui_funding_e2e;
mod tui_payments_e2e;
mod tui_tls_e2e;
