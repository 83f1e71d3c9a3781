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
/// partners' bearer secrets, rustls key material. When RUST_LOG lets anything trace, they are
/// held at `debug` (a directive for the same target replaces the user's); below trace they
/// are left alone, since a `debug` directive would raise them above an `info` default.
const NEVER_TRACED: &[&str] = &[
    "tungstenite=debug",
    "tokio_tungstenite=debug",
    "ureq=debug",
    "ureq_proto=debug",
    "rustls=debug",
];

fn filter() -> tracing_subscriber::EnvFilter {
    let asked = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    filter_for(&asked)
}

/// The filter for a RUST_LOG value (`info` when it cannot be read).
fn filter_for(asked: &str) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::filter::LevelFilter;
    let mut filter = tracing_subscriber::EnvFilter::try_new(asked)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if filter
        .max_level_hint()
        .is_none_or(|level| level == LevelFilter::TRACE)
    {
        for directive in NEVER_TRACED {
            if let Ok(directive) = directive.parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_library_is_held_below_trace_and_left_quiet_at_info() {
        let traced = filter_for("trace").to_string();
        assert!(traced.contains("tungstenite=debug"), "{traced}");
        let targeted = filter_for("info,tungstenite=trace").to_string();
        assert!(targeted.contains("tungstenite=debug"), "{targeted}");
        assert!(!targeted.contains("tungstenite=trace"), "{targeted}");
        for quiet in ["info", "warn", "debug"] {
            let shown = filter_for(quiet).to_string();
            assert!(!shown.contains("tungstenite"), "{quiet}: {shown}");
        }
    }
}
