//! Themes: colours for every part of the screen. The built-in ones are the files in
//! `assets/themes/`, compiled in so the binary works from anywhere; a profile picks one by
//! name (`theme = "light"`) or names a theme file of its own, which changes only the colours
//! it names, on top of a built-in theme (`base`, dark unless it says).

use crate::text_position::line_column;
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use toml::Spanned;

const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../assets/themes/dark.toml")),
    ("light", include_str!("../../assets/themes/light.toml")),
];

fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// A theme file as written: every colour optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    base: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
    dim: Option<Spanned<String>>,
    accent: Option<Spanned<String>>,
    selected_fg: Option<Spanned<String>>,
    selected_bg: Option<Spanned<String>>,
    unread: Option<Spanned<String>>,
    error: Option<Spanned<String>>,
    info: Option<Spanned<String>>,
    status_fg: Option<Spanned<String>>,
    status_bg: Option<Spanned<String>>,
    new_marker: Option<Spanned<String>>,
    names: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Every colour of a theme, before they become styles.
#[derive(Debug, Clone)]
struct Colours {
    text: Color,
    dim: Color,
    accent: Color,
    selected_fg: Color,
    selected_bg: Color,
    unread: Color,
    error: Color,
    info: Color,
    status_fg: Color,
    status_bg: Color,
    new_marker: Color,
    names: Vec<Color>,
}

/// What is wrong with a theme file, and where (a byte range of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl ThemeError {
    /// `FILE:LINE:COL: message`, like the config's errors.
    pub fn located(&self, file: &str, text: &str) -> String {
        let (line, column) = self
            .span
            .as_ref()
            .map_or((1, 1), |span| line_column(text, span.start));
        format!("{file}:{line}:{column}: {}", self.message)
    }
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
        if let Some(text) = built_in(name_or_path) {
            let located =
                |e: ThemeError| e.located(&format!("built-in theme {name_or_path}"), text);
            return read(text).map(Theme::from).map_err(located);
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
        Theme::parse(&text).map_err(|e| e.located(&path.display().to_string(), &text))
    }

    /// Reads a theme file: the colours it names, the rest from its base (dark by default).
    pub fn parse(text: &str) -> Result<Theme, ThemeError> {
        let file: ThemeFile = from_toml(text)?;
        let base_name = file.base.as_ref();
        let base_text = match base_name {
            None => built_in("dark"),
            Some(name) => built_in(name.get_ref()),
        };
        let Some(base_text) = base_text else {
            let name = base_name.map(|n| (n.get_ref().as_str(), n.span()));
            return Err(ThemeError {
                span: name.as_ref().map(|(_, span)| span.clone()),
                message: format!(
                    "base: {:?} is not a built-in theme; use dark or light",
                    name.map_or("", |(n, _)| n)
                ),
            });
        };
        let base = read(base_text)?;
        over(file, Some(&base)).map(Theme::from)
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

fn from_toml(text: &str) -> Result<ThemeFile, ThemeError> {
    toml::from_str(text).map_err(|e: toml::de::Error| ThemeError {
        span: e.span(),
        message: e.message().trim().to_owned(),
    })
}

/// A theme file on its own: it must name every colour (the built-in themes do).
fn read(text: &str) -> Result<Colours, ThemeError> {
    over(from_toml(text)?, None)
}

/// The file's colours over `base`'s; without a base, a colour the file leaves out is an error.
fn over(file: ThemeFile, base: Option<&Colours>) -> Result<Colours, ThemeError> {
    let pick = |field: &str, written: Option<Spanned<String>>, inherited: Option<Color>| match (
        written, inherited,
    ) {
        (Some(value), _) => colour(field, &value),
        (None, Some(color)) => Ok(color),
        (None, None) => Err(ThemeError {
            span: None,
            message: format!("{field}: missing (a theme without a base names every colour)"),
        }),
    };
    let names = match (file.names, base) {
        (Some(names), _) => {
            let span = names.span();
            let names = names
                .into_inner()
                .iter()
                .map(|n| colour("names", n))
                .collect::<Result<Vec<_>, _>>()?;
            if names.is_empty() {
                return Err(ThemeError {
                    span: Some(span),
                    message: "names: list at least one colour".into(),
                });
            }
            names
        }
        (None, Some(base)) => base.names.clone(),
        (None, None) => pick("names", None, None).map(|c| vec![c])?,
    };
    Ok(Colours {
        text: pick("text", file.text, base.map(|b| b.text))?,
        dim: pick("dim", file.dim, base.map(|b| b.dim))?,
        accent: pick("accent", file.accent, base.map(|b| b.accent))?,
        selected_fg: pick("selected_fg", file.selected_fg, base.map(|b| b.selected_fg))?,
        selected_bg: pick("selected_bg", file.selected_bg, base.map(|b| b.selected_bg))?,
        unread: pick("unread", file.unread, base.map(|b| b.unread))?,
        error: pick("error", file.error, base.map(|b| b.error))?,
        info: pick("info", file.info, base.map(|b| b.info))?,
        status_fg: pick("status_fg", file.status_fg, base.map(|b| b.status_fg))?,
        status_bg: pick("status_bg", file.status_bg, base.map(|b| b.status_bg))?,
        new_marker: pick("new_marker", file.new_marker, base.map(|b| b.new_marker))?,
        names,
    })
}

fn colour(field: &str, value: &Spanned<String>) -> Result<Color, ThemeError> {
    Color::from_str(value.get_ref()).map_err(|_| ThemeError {
        span: Some(value.span()),
        message: format!(
            "{field}: {:?} is not a colour; write a name (lightblue), hex (\"#ff8800\") or 0-255",
            value.get_ref()
        ),
    })
}

impl From<Colours> for Theme {
    fn from(c: Colours) -> Theme {
        let fg = |color| Style::new().fg(color);
        Theme {
            text: fg(c.text),
            dim: fg(c.dim),
            accent: fg(c.accent).add_modifier(Modifier::BOLD),
            selected: fg(c.selected_fg).bg(c.selected_bg),
            unread: fg(c.unread).add_modifier(Modifier::BOLD),
            error: fg(c.error),
            info: fg(c.info),
            status: fg(c.status_fg).bg(c.status_bg),
            new_marker: fg(c.new_marker),
            names: c.names,
        }
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
    fn a_theme_file_changes_only_what_it_names_on_its_base() {
        let dark = Theme::load("dark").unwrap();
        let light = Theme::load("light").unwrap();
        let mine = Theme::parse("accent = \"magenta\"\n").unwrap();
        assert_eq!(
            mine.accent,
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD)
        );
        assert_eq!(
            (mine.text, mine.names.clone()),
            (dark.text, dark.names.clone())
        );
        let on_light = Theme::parse("base = \"light\"\nerror = \"#ff0000\"\n").unwrap();
        assert_eq!(on_light.text, light.text);
        assert_eq!(on_light.error, Style::new().fg(Color::Rgb(255, 0, 0)));
    }

    #[test]
    fn a_bad_theme_says_where_and_what() {
        let text = "# mine\nbase = \"dark\"\naccent = \"plaid\"\n";
        let error = Theme::parse(text).unwrap_err();
        assert_eq!(
            error.located("mine.toml", text),
            "mine.toml:3:10: accent: \"plaid\" is not a colour; write a name (lightblue), hex (\"#ff8800\") or 0-255"
        );
        let text = "names = []\n";
        assert!(
            Theme::parse(text)
                .unwrap_err()
                .located("t.toml", text)
                .starts_with("t.toml:1:9: names: list at least one colour")
        );
        let text = "base = \"neon\"\n";
        assert!(
            Theme::parse(text)
                .unwrap_err()
                .located("t.toml", text)
                .starts_with("t.toml:1:8: base: \"neon\"")
        );
        let text = "accnet = \"red\"\n";
        assert!(
            Theme::parse(text)
                .unwrap_err()
                .located("t.toml", text)
                .starts_with("t.toml:1:1: unknown field `accnet`")
        );
        assert!(Theme::load("neon").unwrap_err().contains("dark or light"));
    }
}
