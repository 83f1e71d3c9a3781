//! Slash commands typed in the composer.

use crate::money::Currency;

/// A parsed slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Dm(String),
    /// The secret (end-to-end encrypted) conversation with this user.
    Secret(String),
    /// Trusts the devices the other person of this secret conversation has now.
    AcceptKeys,
    /// Starts verifying the other person (`None`), or answers whether the codes match.
    Verify(Option<bool>),
    /// Sets the secret conversation's disappearing-message timer, in seconds (0: off).
    Timer(u32),
    Group {
        name: String,
        members: Vec<String>,
    },
    Leave,
    /// Logs in again, after the server refused the session's token.
    LogIn,
    Help,
    Quit,
    Pay,
    Request,
    Split {
        amount: String,
        memo: String,
    },
    Wallet,
    /// Mutes the conversation, or unmutes it if muted.
    Mute,
    /// Adds this amount ("20", "20 EUR") through the payment partner.
    Topup(String),
    /// Copies the checkout address of the top-up being paid.
    CopyLink,
    /// Sends this amount to a bank account: the one given, else the profile's.
    Withdraw {
        amount: String,
        account: Option<String>,
    },
    /// Sends the file at this path here, with this caption.
    Attach {
        path: String,
        caption: String,
    },
}

/// (usage, what it does), for the help overlay.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/dm USER", "open the direct conversation with USER"),
    (
        "/secret USER",
        "open the secret (end-to-end encrypted) conversation with USER",
    ),
    (
        "/accept-keys",
        "in a secret conversation: trust the other person's new keys (check with them first)",
    ),
    (
        "/timer DURATION|off",
        "in a secret conversation: messages disappear after 30s, 10m, 1h, 1d or 1w",
    ),
    (
        "/verify [yes|no]",
        "in a secret conversation: compare a code with the other person; yes if it matches",
    ),
    ("/group NAME USER...", "create a group with those users"),
    ("/leave", "leave the current group"),
    (
        "/login",
        "log in again after the server refused the session (a logout or revoke elsewhere)",
    ),
    ("/pay", "pay someone here (also F2)"),
    ("/request", "ask someone here for money (also F3)"),
    (
        "/wallet",
        "balances, history, spending, CSV export (also F4)",
    ),
    (
        "/split AMOUNT [CURRENCY] [MEMO]",
        "in a group: share a bill equally, you included (reviewed first)",
    ),
    (
        "/mute",
        "mute this conversation (no bell or notice, but mentions); again unmutes",
    ),
    (
        "/topup AMOUNT [CURRENCY]",
        "add money from a card at the payment partner's checkout page (also F5)",
    ),
    (
        "/copy-link",
        "copy the checkout address of the top-up being paid (the terminal's clipboard)",
    ),
    (
        "/withdraw AMOUNT [CURRENCY] [IBAN]",
        "send money to a bank account (the profile's bank_account unless given)",
    ),
    (
        "/attach PATH [CAPTION]",
        "send the file at PATH here (~ is your home), the rest of the line its caption",
    ),
    ("/help", "show this help"),
    ("/quit", "quit quid"),
];

/// The names `parse` knows.
const NAMES: &[&str] = &[
    "/dm",
    "/secret",
    "/accept-keys",
    "/copy-link",
    "/verify",
    "/timer",
    "/group",
    "/leave",
    "/login",
    "/pay",
    "/request",
    "/wallet",
    "/split",
    "/mute",
    "/topup",
    "/withdraw",
    "/attach",
    "/help",
    "/quit",
    "/q",
];

/// Whether `line` starts with a command's name (its arguments may still be wrong).
pub fn is_command(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .is_some_and(|name| NAMES.contains(&name))
}

/// Parses a composer line starting with `/`. The error says what was wrong and what to type.
pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or("/");
    let args: Vec<&str> = words.collect();
    let user = |word: &str| word.trim_start_matches('@').to_owned();
    match (name, args.as_slice()) {
        ("/dm", [who]) => Ok(Command::Dm(user(who))),
        ("/dm", _) => Err("usage: /dm USER".into()),
        ("/secret", [who]) => Ok(Command::Secret(user(who))),
        ("/secret", _) => Err("usage: /secret USER".into()),
        ("/accept-keys", []) => Ok(Command::AcceptKeys),
        ("/copy-link", []) => Ok(Command::CopyLink),
        ("/timer", [duration]) => crate::protocol::secret::parse_timer(duration)
            .map(Command::Timer)
            .map_err(|e| format!("/timer {e}")),
        ("/timer", _) => Err("usage: /timer DURATION (30s, 10m, 1h, 1d, 1w) or /timer off".into()),
        ("/verify", []) => Ok(Command::Verify(None)),
        ("/verify", ["yes"]) => Ok(Command::Verify(Some(true))),
        ("/verify", ["no"]) => Ok(Command::Verify(Some(false))),
        ("/verify", _) => Err("usage: /verify, then /verify yes or /verify no".into()),
        ("/group", [group, members @ ..]) if !members.is_empty() => Ok(Command::Group {
            name: group.trim_start_matches('#').to_owned(),
            members: members.iter().map(|m| user(m)).collect(),
        }),
        ("/group", _) => Err("usage: /group NAME USER...".into()),
        ("/leave", []) => Ok(Command::Leave),
        ("/login", []) => Ok(Command::LogIn),
        ("/pay", []) => Ok(Command::Pay),
        ("/request", []) => Ok(Command::Request),
        ("/wallet", []) => Ok(Command::Wallet),
        ("/mute", []) => Ok(Command::Mute),
        ("/split", [amount, code, memo @ ..]) if Currency::from_code(code).is_ok() => {
            Ok(Command::Split {
                amount: format!("{amount} {code}"),
                memo: memo.join(" "),
            })
        }
        ("/split", [amount, memo @ ..]) => Ok(Command::Split {
            amount: (*amount).to_owned(),
            memo: memo.join(" "),
        }),
        ("/split", []) => Err("usage: /split AMOUNT [MEMO]".into()),
        ("/topup", [amount]) => Ok(Command::Topup((*amount).to_owned())),
        ("/topup", [amount, code]) => Ok(Command::Topup(format!("{amount} {code}"))),
        ("/topup", _) => Err("usage: /topup AMOUNT [CURRENCY], like /topup 20 EUR".into()),
        ("/withdraw", [amount, code, account @ ..]) if Currency::from_code(code).is_ok() => {
            Ok(Command::Withdraw {
                amount: format!("{amount} {code}"),
                account: (!account.is_empty()).then(|| account.join(" ")),
            })
        }
        ("/withdraw", [amount, account @ ..]) => Ok(Command::Withdraw {
            amount: (*amount).to_owned(),
            account: (!account.is_empty()).then(|| account.join(" ")),
        }),
        ("/withdraw", []) => Err("usage: /withdraw AMOUNT [CURRENCY] [IBAN]".into()),
        ("/attach", [path, caption @ ..]) => Ok(Command::Attach {
            path: (*path).to_owned(),
            caption: caption.join(" "),
        }),
        ("/attach", []) => Err("usage: /attach PATH [CAPTION]".into()),
        ("/help", []) => Ok(Command::Help),
        ("/quit" | "/q", []) => Ok(Command::Quit),
        (
            "/leave" | "/help" | "/quit" | "/q" | "/pay" | "/request" | "/wallet" | "/accept-keys"
            | "/copy-link",
            _,
        ) => Err(format!("{name} takes no arguments")),
        _ => Err(format!("unknown command {name}; /help lists the commands")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_mistakes_explain_themselves() {
        assert_eq!(parse("/dm @bob"), Ok(Command::Dm("bob".into())));
        assert_eq!(
            parse("/group #team bob @carol"),
            Ok(Command::Group {
                name: "team".into(),
                members: vec!["bob".into(), "carol".into()]
            })
        );
        assert_eq!(
            parse("/split 30 USD pizza night"),
            Ok(Command::Split {
                amount: "30 USD".into(),
                memo: "pizza night".into()
            })
        );
        assert_eq!(
            parse("/split 30 pizza"),
            Ok(Command::Split {
                amount: "30".into(),
                memo: "pizza".into()
            })
        );
        assert_eq!(parse("/quit"), Ok(Command::Quit));
        assert_eq!(parse("/topup 20"), Ok(Command::Topup("20".into())));
        assert_eq!(
            parse("/attach ~/bill.jpg the receipt"),
            Ok(Command::Attach {
                path: "~/bill.jpg".into(),
                caption: "the receipt".into()
            })
        );
        assert_eq!(
            parse("/attach"),
            Err("usage: /attach PATH [CAPTION]".into())
        );
        assert_eq!(parse("/topup 20 USD"), Ok(Command::Topup("20 USD".into())));
        assert!(parse("/topup").unwrap_err().contains("usage: /topup"));
        assert_eq!(
            parse("/withdraw 5 EUR DE89 3704 0044 0532 0130 00"),
            Ok(Command::Withdraw {
                amount: "5 EUR".into(),
                account: Some("DE89 3704 0044 0532 0130 00".into())
            })
        );
        assert_eq!(
            parse("/withdraw 5"),
            Ok(Command::Withdraw {
                amount: "5".into(),
                account: None
            })
        );
        assert_eq!(parse("/dm"), Err("usage: /dm USER".into()));
        assert_eq!(parse("/secret @bob"), Ok(Command::Secret("bob".into())));
        assert_eq!(parse("/secret"), Err("usage: /secret USER".into()));
        assert_eq!(parse("/timer 1h"), Ok(Command::Timer(3_600)));
        assert_eq!(parse("/timer 30s"), Ok(Command::Timer(30)));
        assert_eq!(parse("/timer off"), Ok(Command::Timer(0)));
        for wrong in [
            "/timer 0s",
            "/timer 5",
            "/timer h",
            "/timer 5y",
            "/timer 5w",
        ] {
            assert!(parse(wrong).unwrap_err().contains("1s to 4w"), "{wrong}");
        }
        assert_eq!(
            parse("/accept-keys now"),
            Err("/accept-keys takes no arguments".into())
        );
        assert_eq!(
            parse("/group team"),
            Err("usage: /group NAME USER...".into())
        );
        assert!(
            parse("/fly away")
                .unwrap_err()
                .contains("unknown command /fly")
        );
    }
}
