//! `config.toml`: profiles that name a server and an account. This module finds the file,
//! parses it strictly (an unknown key is an error, not a silent no-op), and resolves one
//! profile. Every error names the file, line, column and key.

mod error;

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

/// How the TUI looks and behaves for a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct TuiSettings {
    /// A built-in theme name or the path of a theme file.
    pub theme: String,
    /// Action name to keys, replacing that action's default keys.
    pub keys: Vec<(String, Vec<String>)>,
    /// Ring the terminal bell when a message arrives out of view.
    pub notify_bell: bool,
    /// Send an OSC 777 / OSC 9 desktop notification when a message arrives out of view.
    pub notify_osc: bool,
}

impl Default for TuiSettings {
    fn default() -> Self {
        TuiSettings {
            theme: "dark".into(),
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
    let profile = profile.into_inner();
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
    let locate = |span, field: &str, message| at(span, &key(field), message);
    let tui = tui_settings(path, profile.theme, profile.keys, &locate)?;
    let tui = TuiSettings {
        notify_bell: profile.notify_bell.unwrap_or(tui.notify_bell),
        notify_osc: profile.notify_osc.unwrap_or(tui.notify_osc),
        ..tui
    };
    Ok(Profile {
        name,
        server,
        ca_file,
        username,
        data_dir,
        tui,
    })
}

type Locate<'a> = dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError + 'a;

/// Checks the TUI keys now, so a bad theme or key is reported with its line, not at startup.
fn tui_settings(
    config_path: &Path,
    theme: Option<Spanned<String>>,
    keys: BTreeMap<String, Spanned<KeyList>>,
    at: &Locate,
) -> Result<TuiSettings, ConfigError> {
    let mut settings = TuiSettings::default();
    if let Some(theme) = theme {
        let span = theme.span();
        let name = theme.into_inner();
        // A theme file's path is relative to the config file, like data_dir.
        let name = match crate::tui::theme::Theme::load(&name) {
            Ok(_) => name,
            Err(_) if Path::new(&name).is_relative() => {
                expand_dir(config_path, &name).map_or(name, |p| p.to_string_lossy().into_owned())
            }
            Err(_) => name,
        };
        crate::tui::theme::Theme::load(&name).map_err(|message| at(span, "theme", message))?;
        settings.theme = name;
    }
    let mut keymap = crate::tui::keymap::Keymap::default();
    let mut spans = BTreeMap::new();
    for (action, keys) in keys {
        let span = keys.span();
        let keys = keys.into_inner().into_vec();
        keymap
            .rebind(&action, &keys)
            .map_err(|message| at(span.clone(), &format!("keys.{action}"), message))?;
        spans.insert(action.clone(), span);
        settings.keys.push((action, keys));
    }
    // Two actions on one key: the first in the table would always win. Said at the line that
    // made it, once every rebinding is in (a key may move from one action to another).
    if let Some((first, second, key)) = keymap.conflicts().into_iter().next() {
        let (mine, other) = match spans.contains_key(second.config_name()) {
            true => (second, first),
            false => (first, second),
        };
        let span = spans.get(mine.config_name()).cloned().unwrap_or(0..0);
        let message = format!(
            "{key} is also the key of {}; give one of them another",
            other.config_name()
        );
        return Err(at(span, &format!("keys.{}", mine.config_name()), message));
    }
    Ok(settings)
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
