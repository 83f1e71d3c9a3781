//! The terminal UI, as a state machine: `state` changes on messages and returns effects,
//! `view` draws the state, and the `runner` owns the terminal, the session and the loop.

mod effects;
mod escapes;
pub mod keymap;
pub mod layout;
pub mod runner;
pub mod settings;
pub mod state;
mod terminal;
pub mod text;
pub mod theme;
pub mod timeline;
pub mod view;
