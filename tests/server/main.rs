//! Integration tests against real servers (SQLite and PostgreSQL): the protocol, chat, payments,
//! invoices, funding, secret conversations, security, several nodes and the chaos test.
//! One test binary: each file here is a module of it, so the suite links a few binaries,
//! not one per file.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod backends;
mod chaos;
mod chat;
mod durability;
mod files;
mod funding;
mod funding_storm;
mod hostile_server;
mod invoices;
mod messages;
mod nodes;
mod payments;
mod payments_concurrency;
mod postgres;
mod protocol;
mod resume;
mod search;
mod secret;
mod security;
