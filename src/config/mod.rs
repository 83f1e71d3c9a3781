//! `config.toml`: profiles that name a server and an account. This module finds the file,
//! parses it strictly (an unknown key is an error, not a silent no-op), and resolves one
//! profile. Every error names the file, line, column and key.

mod error;
pub mod partners;

pub use error::ConfigError;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;
use url::Url;

/// Environment variable naming the per-profile state root (overridden by a profile's `data_dir`).
pub const DATA_DIR_ENV: &str = "QUID_DATA_DIR";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    default_profile: Option<Spanned<String>>,
    #[serde(default)]
    profiles: BTreeMap<String, Spanned<RawProfile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    server: Spanned<String>,
    ca_file: Option<Spanned<String>>,
    username: Spanned<String>,
    data_dir: Option<Spanned<String>>,
    theme: Option<Spanned<String>>,
    #[serde(default)]
    keys: BTreeMap<String, Spanned<KeyList>>,
    notify_bell: Option<bool>,
    notify_osc: Option<bool>,
    bank_account: Option<Spanned<String>>,
}

/// A key binding in config: one key or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    fn into_vec(self) -> Vec<String> {
        match self {
            KeyList::One(key) => vec![key],
            KeyList::Many(keys) => keys,
        }
    }
}

/// Where a setting was written, so that whoever makes sense of it later (the TUI loading a
/// theme, binding keys) can say `FILE:LINE:COL: key: ...` like the config's own errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The dotted key: `profiles.alice.keys.send`.
    pub key: String,
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Written {
            path,
            line,
            column,
            key,
        } = self;
        write!(f, "{}:{line}:{column}: {key}", path.display())
    }
}

/// A profile's rebinding: an action's name and the keys that replace its defaults, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBinding {
    pub action: String,
    pub keys: Vec<String>,
    pub written: Option<Written>,
}

/// How the TUI looks and behaves for a profile, as the config says it. Plain settings: the
/// TUI turns them into a theme and a keymap (`tui::settings`) and reports what it cannot use
/// at the line that set it.
#[derive(Debug, Clone, PartialEq)]
pub struct TuiSettings {
    /// A built-in theme's name, or the path of a theme file (relative ones made absolute).
    pub theme: String,
    pub theme_written: Option<Written>,
    /// Rebindings, in the order written.
    pub keys: Vec<KeyBinding>,
    /// Ring the terminal bell when a message arrives out of view.
    pub notify_bell: bool,
    /// Send an OSC 777 / OSC 9 desktop notification when a message arrives out of view.
    pub notify_osc: bool,
}

impl Default for TuiSettings {
    fn default() -> Self {
        TuiSettings {
            theme: "dark".into(),
            theme_written: None,
            keys: Vec::new(),
            notify_bell: true,
            notify_osc: false,
        }
    }
}

/// A profile, checked and resolved: what a command needs to act as one user on one server.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub server: Url,
    /// CA certificates (PEM) a wss:// server's certificate must chain to, instead of the
    /// system's roots: for a server with a private CA.
    pub ca_file: Option<PathBuf>,
    pub username: String,
    /// Where this profile's token, state and log live.
    pub data_dir: PathBuf,
    pub tui: TuiSettings,
    /// Where withdrawals go unless told otherwise: an IBAN, compact.
    pub bank_account: Option<String>,
}

/// Where `config.toml` is looked for when neither `--config` nor `QUID_CONFIG` says.
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|dirs| dirs.config_dir().join("config.toml"))
}

/// The data dir for everything not tied to a profile (the server's database, the demo).
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    project_dirs().map(|dirs| dirs.data_dir().to_owned())
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "quid")
}

/// Reads `path` and resolves the profile `wanted` (or the default one).
pub fn load_profile(path: &Path, wanted: Option<&str>) -> Result<Profile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    resolve(path, &text, wanted)
}

/// Parses config `text` (read from `path`, for messages) and resolves one profile.
pub fn resolve(path: &Path, text: &str, wanted: Option<&str>) -> Result<Profile, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::parse(path, text, &e))?;
    let at = |span: std::ops::Range<usize>, key: &str, message: String| {
        ConfigError::at(path, text, span, key, message)
    };
    let (name, profile) = chosen_profile(path, text, raw, wanted)?;
    let key = |field: &str| format!("profiles.{name}.{field}");
    let server = parse_server(profile.server.get_ref())
        .map_err(|message| at(profile.server.span(), &key("server"), message))?;
    let ca_file = match &profile.ca_file {
        Some(file) => Some(
            ca_file(path, &server, file.get_ref())
                .map_err(|message| at(file.span(), &key("ca_file"), message))?,
        ),
        None => None,
    };
    let bank_account = match &profile.bank_account {
        Some(account) => Some(
            crate::protocol::funding::normalize_iban(account.get_ref())
                .map_err(|message| at(account.span(), &key("bank_account"), message))?,
        ),
        None => None,
    };
    let username = profile.username.get_ref().clone();
    crate::protocol::accounts::validate_username(&username)
        .map_err(|e| at(profile.username.span(), &key("username"), e.message))?;
    let data_dir = match &profile.data_dir {
        Some(dir) => expand_dir(path, dir.get_ref()).ok_or_else(|| {
            at(
                dir.span(),
                &key("data_dir"),
                "cannot find your home directory for '~'".into(),
            )
        })?,
        None => default_data_dir()
            .ok_or(ConfigError::NoDataDir)?
            .join("profiles")
            .join(&name),
    };
    let notify = Notify {
        bell: profile.notify_bell,
        osc: profile.notify_osc,
    };
    let tui = tui_settings(path, text, &name, profile.theme, profile.keys, notify);
    Ok(Profile {
        name,
        server,
        ca_file,
        username,
        data_dir,
        tui,
        bank_account,
    })
}

/// The profile `wanted` names, else the default one, else the only one; with its name.
fn chosen_profile(
    path: &Path,
    text: &str,
    raw: RawConfig,
    wanted: Option<&str>,
) -> Result<(String, RawProfile), ConfigError> {
    let at = |span: std::ops::Range<usize>, key: &str, message: String| {
        ConfigError::at(path, text, span, key, message)
    };
    let available = or_none(&raw.profiles.keys().cloned().collect::<Vec<_>>().join(", "));
    let name = match (wanted, &raw.default_profile) {
        (Some(name), _) => name.to_owned(),
        (None, Some(default)) => default.get_ref().clone(),
        (None, None) if raw.profiles.len() == 1 => {
            raw.profiles.keys().next().cloned().unwrap_or_default()
        }
        (None, None) => {
            return Err(ConfigError::NoProfileChosen {
                path: path.to_owned(),
                available,
            });
        }
    };
    let mut profiles = raw.profiles;
    let Some(profile) = profiles.remove(&name) else {
        if let (None, Some(default)) = (wanted, &raw.default_profile) {
            return Err(at(
                default.span(),
                "default_profile",
                format!("no profile named {name:?}; profiles here: {available}"),
            ));
        }
        return Err(ConfigError::UnknownProfile {
            path: path.to_owned(),
            name,
            available,
        });
    };
    Ok((name, profile.into_inner()))
}

/// How a profile asked to be told of new messages, where it said.
struct Notify {
    bell: Option<bool>,
    osc: Option<bool>,
}

/// The profile's look and keys, each remembering where it was written.
fn tui_settings(
    path: &Path,
    text: &str,
    name: &str,
    theme: Option<Spanned<String>>,
    keys: BTreeMap<String, Spanned<KeyList>>,
    notify: Notify,
) -> TuiSettings {
    let key = |field: &str| format!("profiles.{name}.{field}");
    let written = |span: std::ops::Range<usize>, field: &str| {
        let (line, column) = crate::text_position::line_column(text, span.start);
        Written {
            path: path.to_owned(),
            line,
            column,
            key: key(field),
        }
    };
    let defaults = TuiSettings::default();
    TuiSettings {
        theme: theme.as_ref().map_or(defaults.theme, |theme| {
            theme_location(path, theme.get_ref())
        }),
        theme_written: theme.as_ref().map(|t| written(t.span(), "theme")),
        keys: keys
            .into_iter()
            .map(|(action, keys)| KeyBinding {
                written: Some(written(keys.span(), &format!("keys.{action}"))),
                keys: keys.into_inner().into_vec(),
                action,
            })
            .collect(),
        notify_bell: notify.bell.unwrap_or(defaults.notify_bell),
        notify_osc: notify.osc.unwrap_or(defaults.notify_osc),
    }
}

/// A theme is a built-in's name ("light") or a file: a name that ends in `.toml` or holds a
/// `/` is a file, relative to the config file like `data_dir`.
fn theme_location(config_path: &Path, theme: &str) -> String {
    let is_file = theme.ends_with(".toml") || theme.contains('/');
    match is_file.then(|| expand_dir(config_path, theme)).flatten() {
        Some(path) => path.to_string_lossy().into_owned(),
        None => theme.to_owned(),
    }
}

fn or_none(list: &str) -> String {
    if list.is_empty() {
        "(none)".into()
    } else {
        list.into()
    }
}

/// A server URL must be ws:// or wss:// with a host.
pub fn parse_server(text: &str) -> Result<Url, String> {
    let url = Url::parse(text)
        .map_err(|e| format!("{text:?} is not a URL ({e}); write e.g. \"ws://127.0.0.1:7447\""))?;
    if !matches!(url.scheme(), "ws" | "wss") {
        return Err(format!(
            "{text:?} must start with ws:// or wss://, not {}://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    Ok(url)
}

/// A profile's `ca_file`: relative to the config file, readable, holding certificates, and
/// only for a wss:// server.
fn ca_file(config_path: &Path, server: &Url, file: &str) -> Result<PathBuf, String> {
    if server.scheme() != "wss" {
        return Err(format!(
            "ca_file is for wss:// servers; {server} does not use TLS"
        ));
    }
    let path = expand_dir(config_path, file)
        .ok_or_else(|| "cannot find your home directory for '~'".to_owned())?;
    crate::tls::client_config(Some(&path)).map_err(|e| e.to_string())?;
    Ok(path)
}

/// `~/x` is under the home directory; a relative path is relative to the config file.
fn expand_dir(config_path: &Path, dir: &str) -> Option<PathBuf> {
    if let Some(rest) = dir.strip_prefix("~/") {
        return directories::BaseDirs::new().map(|b| b.home_dir().join(rest));
    }
    let dir = Path::new(dir);
    Some(if dir.is_absolute() {
        dir.to_owned()
    } else {
        config_path.parent().unwrap_or(Path::new(".")).join(dir)
    })
}

#[cfg(test)]
mod tests;
