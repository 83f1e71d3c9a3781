//! quid: a terminal chat client in which people talk and pay each other, and its server.
//!
//! `protocol` is shared by both sides; `server` and `store` are the server; `session` is the
//! client's connection to it; `config` and `cli` are the command line.

pub mod bench;
pub mod bot;
pub mod browser;
pub mod cli;
pub mod config;
pub mod demo;
pub mod export;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod money;
pub mod partner;
pub mod protocol;
pub mod sandbox;
pub mod search;
pub mod secret;
pub mod server;
pub mod session;
pub mod store;
pub mod text_position;
pub mod tls;
pub mod tui;
pub mod untrusted;
pub mod web;
