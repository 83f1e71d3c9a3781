//! Config errors that point at the place: `FILE:LINE:COLUMN: key: what is wrong`.

use crate::text_position::line_column;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    At(Located),
    #[error(
        "{}: no profile chosen: pass --profile NAME or set default_profile; profiles here: {available}",
        path.display()
    )]
    NoProfileChosen { path: PathBuf, available: String },
    #[error("{}: no profile named {name:?}; profiles here: {available}", path.display())]
    UnknownProfile {
        path: PathBuf,
        name: String,
        available: String,
    },
    #[error(
        "cannot find a data directory for this user; set data_dir in the profile or QUID_DATA_DIR"
    )]
    NoDataDir,
}

/// An error at a place in the file.
#[derive(Debug)]
pub struct Located {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The dotted key, when known (`profiles.alice.server`).
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path.display(), self.line, self.column)?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl ConfigError {
    pub(super) fn at(
        path: &Path,
        text: &str,
        span: std::ops::Range<usize>,
        key: &str,
        message: String,
    ) -> Self {
        let (line, column) = line_column(text, span.start);
        ConfigError::At(Located {
            path: path.to_owned(),
            line,
            column,
            key: Some(key.to_owned()),
            message,
        })
    }

    /// A TOML syntax error or a key serde refused (unknown, missing, wrong type).
    pub(super) fn parse(path: &Path, text: &str, error: &toml::de::Error) -> Self {
        let (line, column) = error
            .span()
            .map_or((1, 1), |span| line_column(text, span.start));
        let message = error.message().trim().to_owned();
        ConfigError::At(Located {
            path: path.to_owned(),
            line,
            column,
            key: key_at(text, line),
            message,
        })
    }
}

/// 1-based line and column (in characters) of byte `offset`.
/// The key written on `line`, with its table, for errors toml reports without one.
fn key_at(text: &str, line: usize) -> Option<String> {
    let mut table = String::new();
    for (index, content) in text.lines().enumerate() {
        let content = content.trim();
        if let Some(header) = content.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            table = header.trim().to_owned();
        }
        if index + 1 == line {
            let key = content.split('=').next()?.trim();
            if key.is_empty() || key.starts_with('[') || content == key {
                return (!table.is_empty()).then_some(table);
            }
            return Some(if table.is_empty() {
                key.to_owned()
            } else {
                format!("{table}.{key}")
            });
        }
    }
    None
}
