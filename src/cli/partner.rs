//! `quid partner-sandbox`: runs the sandbox payment partner (`src/sandbox/`) until SIGINT or
//! SIGTERM; and the `--partner` flags `quid serve` takes to use one.

use crate::partner::Provider;
use crate::sandbox::{Sandbox, SandboxConfig, webhooks::Switches};
use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Where the sandbox listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4243";

/// The environment variable holding a partner's secret (the sandbox's API and webhook secret).
pub const SECRET_ENV: &str = "QUID_PARTNER_SECRET";

#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    listen: SocketAddr,
    /// Where to POST webhooks, e.g. http://127.0.0.1:7447/webhooks/sandbox
    #[arg(long, value_name = "URL", value_parser = http_url)]
    webhook: Option<String>,
    /// Where to POST the events of top-ups made in Stripe's shape (/v1/checkout/sessions),
    /// signed as Stripe signs them, e.g. http://127.0.0.1:7447/webhooks/stripe
    #[arg(long, value_name = "URL", value_parser = http_url)]
    stripe_webhook: Option<String>,
    /// How checkout links start, when people reach the sandbox by another address
    /// [default: http://LISTEN]
    #[arg(long, value_name = "URL", value_parser = http_url)]
    public_url: Option<String>,
    /// Send every webhook twice
    #[arg(long)]
    duplicate_webhooks: bool,
    /// Send webhooks in a random order
    #[arg(long)]
    shuffle_webhooks: bool,
    /// Send each webhook up to this many seconds late (a random delay)
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    late_webhooks: u64,
    /// How long a delayed card payment or a payout takes to settle, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    settle_after: u64,
    /// How long a checkout page waits to be paid before its top-up fails as expired, in
    /// seconds
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    checkout_expires_after: u64,
    /// The API's bearer secret and the webhooks' signing secret
    #[arg(long = "secret", env = SECRET_ENV, hide_env_values = true, value_name = "SECRET")]
    secret: String,
}

fn http_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(text.trim_end_matches('/').to_owned()),
        other => Err(format!("{text:?}: use http:// or https://, not {other}://")),
    }
}

pub async fn run_sandbox(args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    crate::logging::to_stderr();
    let sandbox = Sandbox::bind(SandboxConfig {
        listen: args.listen,
        webhook: args.webhook.clone(),
        stripe_webhook: args.stripe_webhook.clone(),
        secret: args.secret.clone(),
        public_url: args.public_url.clone(),
        switches: Switches {
            duplicate: args.duplicate_webhooks,
            shuffle: args.shuffle_webhooks,
            late: Duration::from_secs(args.late_webhooks),
        },
        settle_after: Duration::from_secs(args.settle_after),
        checkout_expires_after: Duration::from_secs(args.checkout_expires_after),
    })
    .await?;
    say!(
        "quid sandbox partner on {} (webhooks to {})",
        sandbox.base_url(),
        args.webhook.as_deref().unwrap_or("nowhere: no --webhook")
    );
    sandbox.run(super::signals::stop_signal()).await;
    Ok(ExitCode::SUCCESS)
}

/// `quid serve --partner KIND=URL`.
#[derive(Debug, Clone)]
pub struct PartnerArg {
    kind: String,
    url: String,
}

pub fn partner_arg(text: &str) -> Result<PartnerArg, String> {
    let (kind, url) = text.split_once('=').ok_or_else(|| {
        format!("{text:?}: write the partner as KIND=URL, e.g. sandbox=http://127.0.0.1:4243")
    })?;
    if kind != "sandbox" {
        return Err(format!(
            "{kind:?} is not a partner quid knows; it knows sandbox"
        ));
    }
    Ok(PartnerArg {
        kind: kind.to_owned(),
        url: http_url(url)?,
    })
}

/// The adapters `--partner` asks for, with the secret from `--partner-secret-file` or
/// `QUID_PARTNER_SECRET`.
pub fn providers(
    partners: &[PartnerArg],
    secret_file: Option<&Path>,
) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    if partners.is_empty() {
        return Ok(Vec::new());
    }
    let secret = partner_secret(secret_file)?;
    let mut seen = std::collections::HashSet::new();
    partners
        .iter()
        .map(|partner| {
            if !seen.insert(&partner.kind) {
                bail!("--partner {} is given twice", partner.kind);
            }
            let provider: Arc<dyn Provider> = Arc::new(crate::partner::sandbox::Sandbox::new(
                &partner.kind,
                &partner.url,
                &secret,
            ));
            Ok(provider)
        })
        .collect()
}

/// The adapters a partners file (`quid serve --partners FILE`) configures.
pub fn providers_from_file(path: &Path) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    use crate::config::partners::PartnerSettings;
    let settings = crate::config::partners::load_partners(path)?;
    Ok(settings
        .into_iter()
        .map(|partner| -> Arc<dyn Provider> {
            match partner {
                PartnerSettings::Sandbox { url, secret } => Arc::new(
                    crate::partner::sandbox::Sandbox::new("sandbox", &url, &secret.0),
                ),
                PartnerSettings::Stripe {
                    api,
                    secret_key,
                    webhook_secret,
                    success_url,
                    cancel_url,
                } => Arc::new(crate::partner::stripe::Stripe::new(
                    crate::partner::stripe::StripeSettings {
                        name: "stripe".into(),
                        api,
                        secret_key: secret_key.0,
                        webhook_secret: webhook_secret.0,
                        success_url,
                        cancel_url,
                    },
                )),
            }
        })
        .collect())
}

/// The partner secret: the first line of `file`, else `QUID_PARTNER_SECRET`. Never logged.
fn partner_secret(file: Option<&Path>) -> anyhow::Result<String> {
    let secret = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the partner secret from {}", path.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        None => std::env::var(SECRET_ENV).unwrap_or_default(),
    };
    if secret.is_empty() {
        bail!(
            "--partner needs the partner's secret: set {SECRET_ENV} or pass --partner-secret-file PATH"
        );
    }
    Ok(secret)
}
