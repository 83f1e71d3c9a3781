//! The command line, run as a separate `quid` process against real servers.
//! One test binary: each file here is a module of it, so the suite links a few binaries,
//! not one per file.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod cli;
mod cli_files;
mod cli_funding;
