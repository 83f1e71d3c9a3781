//! Where tracing goes: the client commands, the TUI and the demo log to a file (the terminal
//! is the user's), the server to standard error.

use std::path::Path;
use std::sync::Mutex;

/// Installs a file logger (RUST_LOG filters, default `info`). A file that cannot be opened
/// means no log, not a failed command.
pub fn to_file(path: &Path) -> Option<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ok()?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()?;
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .ok()
}

/// The server logs to stderr: it owns no screen. Colours only on a terminal: a log file or
/// a pipe gets plain text.
pub fn to_stderr() {
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}
