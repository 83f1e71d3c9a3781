//! The config loader reads a file people edit: any text gets a profile or an error that names
//! the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    if let Err(error) = quid::config::resolve(Path::new("fuzz.toml"), text, None) {
        assert!(!error.to_string().is_empty());
    }
});
