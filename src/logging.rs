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

/// Libraries whose trace level writes what must never reach a log: tungstenite whole frames
/// and handshakes (passwords in `login`, tokens in the `Authorization` header), ureq the
/// partners' bearer secrets, rustls key material. They are held at `debug` whatever RUST_LOG
/// says (a directive for the same target replaces the user's).
const NEVER_TRACED: &[&str] = &[
    "tungstenite=debug",
    "tokio_tungstenite=debug",
    "ureq=debug",
    "ureq_proto=debug",
    "rustls=debug",
];

fn filter() -> tracing_subscriber::EnvFilter {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for directive in NEVER_TRACED {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}
