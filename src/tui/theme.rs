//! Themes: colours for every part of the screen. The built-in ones are the files in
//! `assets/themes/`, compiled in so the binary works from anywhere; a profile picks one by
//! name (`theme = "light"`) or names a theme file of its own.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::Path;
use std::str::FromStr;

const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../assets/themes/dark.toml")),
    ("light", include_str!("../../assets/themes/light.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    text: String,
    dim: String,
    accent: String,
    selected_fg: String,
    selected_bg: String,
    unread: String,
    error: String,
    info: String,
    status_fg: String,
    status_bg: String,
    new_marker: String,
    names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub text: Style,
    pub dim: Style,
    pub accent: Style,
    pub selected: Style,
    pub unread: Style,
    pub error: Style,
    pub info: Style,
    pub status: Style,
    pub new_marker: Style,
    pub names: Vec<Color>,
}

impl Theme {
    /// A built-in theme by name, or a theme file by path.
    pub fn load(name_or_path: &str) -> Result<Theme, String> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
            return Theme::parse(text).map_err(|e| format!("built-in theme {name_or_path}: {e}"));
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            let names: Vec<_> = BUILT_IN.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "no theme {name_or_path:?}: use {} or the path of a theme file",
                names.join(" or ")
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Theme::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Theme, String> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let color = |field: &str, value: &str| {
            Color::from_str(value).map_err(|_| format!("{field}: {value:?} is not a colour"))
        };
        let fg = |field: &str, value: &str| color(field, value).map(|c| Style::new().fg(c));
        let names = file
            .names
            .iter()
            .map(|n| color("names", n))
            .collect::<Result<Vec<_>, _>>()?;
        if names.is_empty() {
            return Err("names: list at least one colour".into());
        }
        Ok(Theme {
            text: fg("text", &file.text)?,
            dim: fg("dim", &file.dim)?,
            accent: fg("accent", &file.accent)?.add_modifier(Modifier::BOLD),
            selected: fg("selected_fg", &file.selected_fg)?
                .bg(color("selected_bg", &file.selected_bg)?),
            unread: fg("unread", &file.unread)?.add_modifier(Modifier::BOLD),
            error: fg("error", &file.error)?,
            info: fg("info", &file.info)?,
            status: fg("status_fg", &file.status_fg)?.bg(color("status_bg", &file.status_bg)?),
            new_marker: fg("new_marker", &file.new_marker)?,
            names,
        })
    }

    /// The colour a sender's name always gets: chosen by a stable hash of the name.
    pub fn name_style(&self, name: &str) -> Style {
        // FNV-1a: stable across runs and builds, unlike the standard library's hasher.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let color = self.names[(hash % self.names.len() as u64) as usize];
        Style::new().fg(color).add_modifier(Modifier::BOLD)
    }
}

impl Default for Theme {
    fn default() -> Self {
        // The built-in dark theme is checked by a test; should it ever fail, plain text still works.
        Theme::load("dark").unwrap_or(Theme {
            text: Style::new(),
            dim: Style::new(),
            accent: Style::new(),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            unread: Style::new(),
            error: Style::new(),
            info: Style::new(),
            status: Style::new().add_modifier(Modifier::REVERSED),
            new_marker: Style::new(),
            names: vec![Color::Reset],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_load_and_names_keep_their_colour() {
        for (name, _) in BUILT_IN {
            Theme::load(name).unwrap();
        }
        let theme = Theme::default();
        assert_eq!(theme.name_style("alice"), theme.name_style("alice"));
        let distinct: std::collections::HashSet<_> = ["alice", "bob", "carol", "dave", "erin"]
            .iter()
            .map(|n| format!("{:?}", theme.name_style(n)))
            .collect();
        assert!(distinct.len() > 1);
    }

    #[test]
    fn a_bad_theme_says_which_field() {
        let bad = include_str!("../../assets/themes/dark.toml")
            .replace("accent = \"cyan\"", "accent = \"plaid\"");
        assert_eq!(
            Theme::parse(&bad).unwrap_err(),
            "accent: \"plaid\" is not a colour"
        );
        assert!(Theme::load("neon").unwrap_err().contains("dark or light"));
    }
}
