//! Runs a parsed command line: each command goes to its family, and on to the module that
//! carries it out.

use super::command::{Command, ConfigCommand, GroupCommand};
use super::{
    Cli, account, admin, chat, config_cmd, funding, invoices, money, packaging, partner, search,
    secret, serve, sessions,
};
use crate::protocol::{RequestBody, requests};
use std::process::ExitCode;

type Outcome = anyhow::Result<ExitCode>;

impl Cli {
    pub(super) async fn execute(self) -> Outcome {
        let Some(command) = &self.command else {
            return self.open_tui().await;
        };
        use Command as C;
        match command {
            C::Serve(_)
            | C::Demo(_)
            | C::Bench(_)
            | C::Admin(_)
            | C::PartnerSandbox(_)
            | C::Completions { .. }
            | C::Man { .. }
            | C::Config(_) => self.program_command(command).await,
            C::Register { .. } | C::Login { .. } | C::Logout | C::Sessions { .. } => {
                self.account_command(command).await
            }
            C::Pin { .. }
            | C::Pay { .. }
            | C::Request { .. }
            | C::Requests { .. }
            | C::Invoices { .. } => self.money_command(command).await,
            C::Balance { .. }
            | C::Statement { .. }
            | C::Topup { .. }
            | C::Withdraw { .. }
            | C::Topups { .. } => self.wallet_command(command).await,
            C::Send { .. }
            | C::Download { .. }
            | C::Mute { .. }
            | C::Edit { .. }
            | C::Delete { .. }
            | C::React { .. } => self.chat_command(command).await,
            C::History { .. }
            | C::Secret { .. }
            | C::Search { .. }
            | C::Conversations { .. }
            | C::Group(_) => self.reading_command(command).await,
        }
    }

    /// The programs besides the client: the server, the demo, benchmarks, admin, the sandbox partner, packaging, the config file.
    async fn program_command(&self, command: &Command) -> Outcome {
        match command {
            Command::Serve(args) => serve::run(args).await,
            Command::Demo(args) => crate::demo::run(args, self.demo_tui_settings()?).await,
            Command::Bench(args) => crate::bench::run(args).await,
            Command::Admin(args) => {
                // Its database calls block (PostgreSQL's client drives a runtime of its own).
                let args = args.clone();
                tokio::task::spawn_blocking(move || admin::run(&args)).await?
            }
            Command::PartnerSandbox(args) => partner::run_sandbox(args).await,
            Command::Completions { shell } => packaging::completions(*shell),
            Command::Man { command, out } => match out {
                Some(dir) => packaging::write_man_pages(dir, command.as_deref()),
                None => packaging::man_page(command.as_deref()),
            },
            Command::Config(ConfigCommand::Path) => config_cmd::path(self.config_path()?),
            Command::Config(ConfigCommand::Init { username, server }) => {
                config_cmd::init(&self.config_path()?, username, server)
            }
            Command::Config(ConfigCommand::Check) => {
                config_cmd::check(&self.config_path()?, &self.load_profile()?)
            }
            other => unrouted(other),
        }
    }

    /// The account: registering, logging in and out, sessions.
    async fn account_command(&self, command: &Command) -> Outcome {
        match command {
            Command::Register {
                password_stdin,
                passphrase,
            } => account::register(&self.client_profile()?, *password_stdin, *passphrase).await,
            Command::Login {
                token_stdin: true,
                passphrase,
                ..
            } => {
                if passphrase.passphrase_stdin {
                    anyhow::bail!(
                        "--token-stdin logs a bot in, whose secret store is its key file: \
                         leave out --passphrase-stdin"
                    );
                }
                account::login_with_token(&self.client_profile()?).await
            }
            Command::Login {
                password_stdin,
                passphrase,
                ..
            } => account::login(&self.client_profile()?, *password_stdin, *passphrase).await,
            Command::Logout => account::logout(&self.client_profile()?).await,
            Command::Sessions { action, id, json } => match (action, id) {
                (Some(sessions::SessionAction::Revoke), Some(id)) => {
                    sessions::revoke(&self.client_profile()?, id).await
                }
                _ => sessions::list(&self.client_profile()?, *json).await,
            },
            other => unrouted(other),
        }
    }

    /// Money between people: the PIN, paying, requests, invoices.
    async fn money_command(&self, command: &Command) -> Outcome {
        match command {
            Command::Pin { pin_stdin, forgot } => {
                money::set_pin(&self.client_profile()?, *pin_stdin, *forgot).await
            }
            Command::Pay {
                to,
                amount,
                currency,
                memo,
                consent,
                secret,
            } => {
                money::pay(
                    &self.client_profile()?,
                    to,
                    amount,
                    currency.as_deref(),
                    memo,
                    *consent,
                    *secret,
                )
                .await
            }
            Command::Request {
                from,
                amount,
                currency,
                memo,
                secret,
            } => {
                money::request(
                    &self.client_profile()?,
                    from,
                    amount,
                    currency.as_deref(),
                    memo,
                    *secret,
                )
                .await
            }
            Command::Requests {
                action,
                id,
                consent,
                json,
            } => match (action, id) {
                (Some(action), Some(id)) => {
                    money::act_on_request(&self.client_profile()?, *action, *id, *consent).await
                }
                _ => money::requests(&self.client_profile()?, *json).await,
            },
            Command::Invoices {
                action,
                id,
                amount,
                consent,
                json,
            } => match (action, id) {
                (Some(action), Some(id)) => {
                    invoices::act_on_invoice(
                        &self.client_profile()?,
                        *action,
                        *id,
                        amount.as_deref(),
                        *consent,
                    )
                    .await
                }
                _ => invoices::invoices(&self.client_profile()?, *json).await,
            },
            other => unrouted(other),
        }
    }

    /// The wallet: its balance and statement, money in (top-ups) and out (payouts).
    async fn wallet_command(&self, command: &Command) -> Outcome {
        match command {
            Command::Balance { json } => money::balance(&self.client_profile()?, *json).await,
            Command::Statement { csv, json } => {
                let format = match (csv, json) {
                    (true, _) => money::StatementFormat::Csv,
                    (_, true) => money::StatementFormat::Json,
                    _ => money::StatementFormat::Text,
                };
                money::statement(&self.client_profile()?, format).await
            }
            Command::Topup {
                amount,
                currency,
                no_wait,
                open,
                provider,
                json,
            } => {
                let flags = funding::TopupFlags {
                    json: *json,
                    wait: !no_wait,
                    open: *open,
                };
                let profile = self.client_profile()?;
                funding::topup(
                    &profile,
                    amount,
                    currency.as_deref(),
                    provider.as_deref(),
                    flags,
                )
                .await
            }
            Command::Withdraw {
                amount,
                currency,
                to,
                provider,
                consent,
                json,
            } => {
                let order = funding::WithdrawOrder {
                    amount,
                    currency: currency.as_deref(),
                    to: to.as_deref(),
                    provider: provider.as_deref(),
                    json: *json,
                };
                funding::withdraw(&self.client_profile()?, order, *consent).await
            }
            Command::Topups { json } => funding::list(&self.client_profile()?, *json).await,
            other => unrouted(other),
        }
    }

    /// Chat: sending a message, changing one, muting a conversation.
    async fn chat_command(&self, command: &Command) -> Outcome {
        match command {
            Command::Send {
                target,
                text,
                reply_to,
                files,
            } => {
                let profile = self.client_profile()?;
                let text = text.as_deref().unwrap_or_default();
                match files.is_empty() {
                    true => chat::send(&profile, target, text, *reply_to).await,
                    false => super::files::send(&profile, target, text, *reply_to, files).await,
                }
            }
            Command::Download { id, output } => {
                super::files::download(&self.client_profile()?, *id, output.as_deref()).await
            }
            Command::Mute { target, off } => {
                chat::mute(&self.client_profile()?, target, !off).await
            }
            Command::Edit { id, text } => {
                let body = RequestBody::EditMessage(requests::EditMessage {
                    message_id: *id,
                    text: text.clone(),
                });
                chat::change(&self.client_profile()?, body).await
            }
            Command::Delete { id } => {
                let body = RequestBody::DeleteMessage(requests::DeleteMessage { message_id: *id });
                chat::change(&self.client_profile()?, body).await
            }
            Command::React { id, emoji, remove } => {
                let body = RequestBody::React(requests::React {
                    message_id: *id,
                    emoji: emoji.clone(),
                    remove: *remove,
                });
                chat::change(&self.client_profile()?, body).await
            }
            other => unrouted(other),
        }
    }

    /// Reading: history (secret conversations too), search, the conversations; making a group.
    async fn reading_command(&self, command: &Command) -> Outcome {
        match command {
            Command::History {
                target,
                limit,
                json,
                no_mark_read,
                secret,
                passphrase,
            } => {
                let shown = chat::Shown {
                    limit: *limit,
                    json: *json,
                    mark_read: !no_mark_read,
                };
                let profile = self.client_profile()?;
                match secret {
                    true => secret::history(&profile, target, shown, *passphrase).await,
                    false => chat::history(&profile, target, shown).await,
                }
            }
            Command::Secret {
                target,
                text,
                passphrase,
                timer,
                ..
            } => {
                let profile = self.client_profile()?;
                match (text, timer) {
                    (Some(text), _) => secret::send(&profile, target, text, *passphrase).await,
                    (None, Some(seconds)) => {
                        secret::set_timer(&profile, target, *seconds, *passphrase).await
                    }
                    // Without TEXT or --timer, clap requires --accept-keys.
                    (None, None) => secret::accept_keys(&profile, target, *passphrase).await,
                }
            }
            Command::Search {
                text,
                within,
                from,
                limit,
                json,
            } => {
                let command = search::SearchCommand {
                    text,
                    within: within.as_deref(),
                    from: from.as_deref(),
                    limit: *limit,
                    json: *json,
                };
                search::search(&self.client_profile()?, command).await
            }
            Command::Conversations { json } => {
                chat::conversations(&self.client_profile()?, *json).await
            }
            Command::Group(GroupCommand::Create { name, members }) => {
                chat::create_group(&self.client_profile()?, name, members).await
            }
            other => unrouted(other),
        }
    }
}

/// A command handed to a family that does not carry it out: `execute` routes each to its own,
/// so this is a slip in the routing.
fn unrouted(command: &Command) -> Outcome {
    anyhow::bail!("internal error: {command:?} went to the wrong family of commands")
}
