//! Generated inputs: the ledger against a model, and the decoders and parsers against anything.
//! One test binary: each file here is a module of it, so the suite links a few binaries,
//! not one per file.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod fuzz;
mod ledger_properties;
