//! The payment partners of `quid serve --partners FILE`: a TOML file with a section per
//! partner. Secrets are named, not written: each comes from an environment variable or from
//! the first line of a file, read here, and never printed (`Secret`'s `Debug` hides it).
//! Mistakes are reported as `FILE:LINE:COL: key: what is wrong`, like the client's config.
//!
//! ```toml
//! [sandbox]
//! url = "http://127.0.0.1:4243"
//! secret_env = "QUID_PARTNER_SECRET"
//!
//! [stripe]
//! secret_key_file = "/etc/quid/stripe-secret-key"
//! webhook_secret_env = "QUID_STRIPE_WEBHOOK_SECRET"
//! success_url = "https://quid.example.org/topped-up"
//! cancel_url = "https://quid.example.org/not-topped-up"
//! ```

use super::error::ConfigError;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// Where Stripe's API is unless the section says otherwise.
pub const STRIPE_API: &str = "https://api.stripe.com";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartners {
    sandbox: Option<RawSandbox>,
    stripe: Option<RawStripe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSandbox {
    url: Spanned<String>,
    secret_env: Option<Spanned<String>>,
    secret_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStripe {
    api: Option<Spanned<String>>,
    secret_key_env: Option<Spanned<String>>,
    secret_key_file: Option<Spanned<String>>,
    webhook_secret_env: Option<Spanned<String>>,
    webhook_secret_file: Option<Spanned<String>>,
    success_url: Spanned<String>,
    cancel_url: Spanned<String>,
}

/// A secret read from where the file said; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// One partner, as the file configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerSettings {
    Sandbox {
        url: String,
        secret: Secret,
    },
    Stripe {
        api: String,
        secret_key: Secret,
        webhook_secret: Secret,
        success_url: String,
        cancel_url: String,
    },
}

/// Reads the partners file at `path`, secrets and all.
pub fn load_partners(path: &Path) -> Result<Vec<PartnerSettings>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    resolve_partners(path, &text, &|name| std::env::var(name).ok())
}

/// Parses partners file `text` (from `path`, for messages), reading environment variables
/// through `env`.
pub fn resolve_partners(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<PartnerSettings>, ConfigError> {
    let raw: RawPartners = toml::from_str(text).map_err(|e| ConfigError::parse(path, text, &e))?;
    let at = |span: std::ops::Range<usize>, key: &str, message: String| {
        ConfigError::at(path, text, span, key, message)
    };
    let secret = |section: &str,
                  what: &str,
                  from_env: &Option<Spanned<String>>,
                  from_file: &Option<Spanned<String>>| {
        read_secret(path, section, what, from_env, from_file, env).map_err(
            |(span, key, message)| match span {
                Some(span) => at(span, &key, message),
                None => ConfigError::At(super::error::Located {
                    path: path.to_owned(),
                    line: 1,
                    column: 1,
                    key: Some(key),
                    message,
                }),
            },
        )
    };
    let mut partners = Vec::new();
    if let Some(sandbox) = raw.sandbox {
        let url = http_url(&sandbox.url).map_err(|m| at(sandbox.url.span(), "sandbox.url", m))?;
        let secret = secret(
            "sandbox",
            "secret",
            &sandbox.secret_env,
            &sandbox.secret_file,
        )?;
        partners.push(PartnerSettings::Sandbox { url, secret });
    }
    if let Some(stripe) = raw.stripe {
        let api = match &stripe.api {
            Some(api) => http_url(api).map_err(|m| at(api.span(), "stripe.api", m))?,
            None => STRIPE_API.to_owned(),
        };
        let secret_key = secret(
            "stripe",
            "secret_key",
            &stripe.secret_key_env,
            &stripe.secret_key_file,
        )?;
        let webhook_secret = secret(
            "stripe",
            "webhook_secret",
            &stripe.webhook_secret_env,
            &stripe.webhook_secret_file,
        )?;
        let success_url = http_url(&stripe.success_url)
            .map_err(|m| at(stripe.success_url.span(), "stripe.success_url", m))?;
        let cancel_url = http_url(&stripe.cancel_url)
            .map_err(|m| at(stripe.cancel_url.span(), "stripe.cancel_url", m))?;
        partners.push(PartnerSettings::Stripe {
            api,
            secret_key,
            webhook_secret,
            success_url,
            cancel_url,
        });
    }
    if partners.is_empty() {
        return Err(ConfigError::At(super::error::Located {
            path: path.to_owned(),
            line: 1,
            column: 1,
            key: None,
            message: "no partner configured: add a [sandbox] or [stripe] section".into(),
        }));
    }
    Ok(partners)
}

/// An http:// or https:// URL, without a trailing slash.
fn http_url(text: &Spanned<String>) -> Result<String, String> {
    let url = url::Url::parse(text.get_ref())
        .map_err(|e| format!("{:?} is not a URL: {e}", text.get_ref()))?;
    match url.scheme() {
        "http" | "https" => Ok(text.get_ref().trim_end_matches('/').to_owned()),
        other => Err(format!("use http:// or https://, not {other}://")),
    }
}

type SecretError = (Option<std::ops::Range<usize>>, String, String);

/// `WHAT_env` or `WHAT_file` of `section`: exactly one, naming a variable that is set or a
/// file whose first line is the secret.
fn read_secret(
    config: &Path,
    section: &str,
    what: &str,
    from_env: &Option<Spanned<String>>,
    from_file: &Option<Spanned<String>>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, SecretError> {
    let read = match (from_env, from_file) {
        (Some(_), Some(file)) => {
            return Err((
                Some(file.span()),
                format!("{section}.{what}_file"),
                format!("give {what}_env or {what}_file, not both"),
            ));
        }
        (None, None) => {
            return Err((
                None,
                format!("{section}.{what}_env"),
                format!(
                    "[{section}] needs its {what}: {what}_env = \"VARIABLE\" or {what}_file = \"PATH\""
                ),
            ));
        }
        (Some(name), None) => env(name.get_ref())
            .map(|value| (name, value))
            .ok_or_else(|| {
                (
                    Some(name.span()),
                    format!("{section}.{what}_env"),
                    format!("the environment variable {} is not set", name.get_ref()),
                )
            })?,
        (None, Some(file)) => {
            let relative = config
                .parent()
                .unwrap_or(Path::new("."))
                .join(file.get_ref());
            let content = std::fs::read_to_string(&relative).map_err(|e| {
                (
                    Some(file.span()),
                    format!("{section}.{what}_file"),
                    format!("cannot read {}: {e}", relative.display()),
                )
            })?;
            (file, content.lines().next().unwrap_or_default().to_owned())
        }
    };
    let (source, value) = read;
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err((
            Some(source.span()),
            format!("{section}.{what}"),
            format!("{} holds no secret", source.get_ref()),
        ));
    }
    Ok(Secret(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SET").then(|| "s3cret".into())
    }

    fn resolve(text: &str) -> Result<Vec<PartnerSettings>, String> {
        resolve_partners(Path::new("partners.toml"), text, &env).map_err(|e| e.to_string())
    }

    #[test]
    fn both_partners_read_with_their_secrets_hidden() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "sk_test_123\nignored\n").unwrap();
        let text = "[sandbox]\nurl = \"http://127.0.0.1:4243/\"\nsecret_env = \"SET\"\n\n\
                    [stripe]\nsecret_key_file = \"key\"\nwebhook_secret_env = \"SET\"\n\
                    success_url = \"https://example.org/done\"\ncancel_url = \"https://example.org/no\"\n";
        let path = dir.path().join("partners.toml");
        let partners = resolve_partners(&path, text, &env).unwrap();
        assert_eq!(
            partners[0],
            PartnerSettings::Sandbox {
                url: "http://127.0.0.1:4243".into(),
                secret: Secret("s3cret".into())
            }
        );
        let PartnerSettings::Stripe {
            api, secret_key, ..
        } = &partners[1]
        else {
            panic!("{partners:?}");
        };
        assert_eq!(
            (api.as_str(), secret_key.0.as_str()),
            (STRIPE_API, "sk_test_123")
        );
        let shown = format!("{partners:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("sk_test"),
            "{shown}"
        );
    }

    #[test]
    fn mistakes_name_the_place_and_the_key() {
        let unset = resolve("[sandbox]\nurl = \"http://x\"\nsecret_env = \"UNSET\"\n").unwrap_err();
        assert_eq!(
            unset,
            "partners.toml:3:14: sandbox.secret_env: the environment variable UNSET is not set"
        );
        let none = resolve("[sandbox]\nurl = \"http://x\"\n").unwrap_err();
        assert!(none.contains("needs its secret"), "{none}");
        let scheme = resolve("[sandbox]\nurl = \"ftp://x\"\nsecret_env = \"SET\"\n").unwrap_err();
        assert!(
            scheme.starts_with("partners.toml:2:7: sandbox.url: use http://"),
            "{scheme}"
        );
        let unknown = resolve("[paypal]\nurl = \"http://x\"\n").unwrap_err();
        assert!(unknown.contains("unknown field"), "{unknown}");
        assert!(resolve("").unwrap_err().contains("no partner configured"));
    }
}
