//! A profile's TUI settings made real: its theme loaded and its keys bound. What cannot be
//! used is reported at the config line that set it (`FILE:LINE:COL: key: ...`), both when
//! the TUI starts and by `quid config check`.

use super::keymap::Keymap;
use super::theme::Theme;
use crate::config::{TuiSettings, Written};

/// The profile's theme and keymap, or what is wrong with them, and where.
pub fn theme_and_keymap(settings: &TuiSettings) -> Result<(Theme, Keymap), String> {
    let at = |written: Option<&Written>, message: String| match written {
        Some(place) => format!("{place}: {message}"),
        None => message,
    };
    let theme = Theme::load(&settings.theme)
        .map_err(|message| at(settings.theme_written.as_ref(), message))?;
    let mut keymap = Keymap::default();
    for binding in &settings.keys {
        keymap
            .rebind(&binding.action, &binding.keys)
            .map_err(|message| at(binding.written.as_ref(), message))?;
    }
    // Two actions on one key: the first in the table would always win. Said at the line that
    // made it, once every rebinding is in (a key may move from one action to another).
    if let Some((first, second, key)) = keymap.conflicts().into_iter().next() {
        let written = |action: &str| settings.keys.iter().find(|b| b.action == action);
        let (mine, other) = match written(second.config_name()) {
            Some(binding) => (binding, first),
            None => match written(first.config_name()) {
                Some(binding) => (binding, second),
                None => return Err(format!("{key} is bound twice by default")),
            },
        };
        let message = format!(
            "{key} is also the key of {}; give one of them another",
            other.config_name()
        );
        return Err(at(mine.written.as_ref(), message));
    }
    Ok((theme, keymap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check(text: &str) -> Result<(Theme, Keymap), String> {
        let profile = crate::config::resolve(Path::new("/etc/quid/config.toml"), text, None)
            .map_err(|e| e.to_string())?;
        theme_and_keymap(&profile.tui)
    }

    #[test]
    fn themes_and_keys_are_refused_at_the_line_that_set_them() {
        let base = "[profiles.alice]\nserver = \"ws://h:1\"\nusername = \"alice\"\n";
        let good = format!(
            "{base}theme = \"light\"\n[profiles.alice.keys]\nquit = \"ctrl-x\"\nhelp = [\"f1\", \"f12\"]\n"
        );
        let (theme, keymap) = check(&good).unwrap();
        assert_eq!(theme, Theme::load("light").unwrap());
        assert_eq!(keymap.key_hint(crate::tui::keymap::Action::Quit), "Ctrl+X");

        let error = check(&format!("{base}theme = \"neon\"\n")).err().unwrap();
        assert!(
            error.starts_with("/etc/quid/config.toml:4:9: profiles.alice.theme: no theme"),
            "{error}"
        );
        let error = check(&format!(
            "{base}[profiles.alice.keys]\nquit = \"hyper-q\"\n"
        ))
        .err()
        .unwrap();
        assert!(
            error.starts_with("/etc/quid/config.toml:5:8: profiles.alice.keys.quit: "),
            "{error}"
        );
        let error = check(&format!("{base}[profiles.alice.keys]\nfly = \"f5\"\n"))
            .err()
            .unwrap();
        assert!(error.contains("no action named \"fly\""), "{error}");

        // One key for two actions of a scope is refused at the line that made it...
        let error = check(&format!("{base}[profiles.alice.keys]\nsend = \"ctrl-q\"\n"))
            .err()
            .unwrap();
        assert!(
            error.starts_with("/etc/quid/config.toml:5:8: profiles.alice.keys.send: ")
                && error.contains("Ctrl+Q is also the key of quit"),
            "{error}"
        );
        // ...but a key may move from one action to another, and scopes do not collide.
        let moved = "[profiles.alice.keys]\nhelp = \"ctrl-q\"\nquit = \"ctrl-x\"\nreply = \"q\"\n";
        check(&format!("{base}{moved}")).unwrap();
    }
}
