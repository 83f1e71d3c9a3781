//! Opening a web page in the user's browser, for a checkout page: `$BROWSER` if set, else the
//! platform's opener (`open` on macOS, `xdg-open` elsewhere); and a saved file with that
//! opener. Only where a graphical browser can
//! appear (macOS, or a `DISPLAY` / `WAYLAND_DISPLAY`): a text browser started from the TUI would
//! fight it for the terminal. The opener runs detached, its output discarded.

use std::process::{Command, Stdio};

/// Whether a browser window can be opened here.
pub fn can_open() -> bool {
    cfg!(target_os = "macos")
        || ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

/// The platform's opener: `open` on macOS, `xdg-open` elsewhere.
fn system_opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    }
}

/// Opens `url` if a browser can be, and says whether it was started.
pub fn open(url: &str) -> bool {
    if !can_open() || !(url.starts_with("http://") || url.starts_with("https://")) {
        return false;
    }
    let opener = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| system_opener().into());
    start(opener.trim(), std::ffi::OsStr::new(url))
}

/// Opens the file at `path` with the system's opener if a window can appear, and says
/// whether it was started.
pub fn open_file(path: &std::path::Path) -> bool {
    can_open() && start(system_opener(), path.as_os_str())
}

/// Starts `opener` on `what`, detached, its output discarded.
fn start(opener: &str, what: &std::ffi::OsStr) -> bool {
    Command::new(opener)
        .arg(what)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .is_ok()
}
