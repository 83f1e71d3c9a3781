//! The terminal UI.
pub mod keymap;
pub mod layout;
pub mod text;
