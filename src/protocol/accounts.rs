//! What the server accepts as a username, a password and a PIN. Here, not in the server, so
//! the CLI and the config can check them before a round trip (and before asking twice).

use super::ApiError;

pub const USERNAME_RULES: &str =
    "2 to 32 characters: lowercase letters a-z, digits and '_', starting with a letter";
pub const MIN_PASSWORD_BYTES: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const PIN_RULES: &str = "a PIN is 4 to 12 digits";

pub fn validate_username(username: &str) -> Result<(), ApiError> {
    let starts_with_letter = username.starts_with(|c: char| c.is_ascii_lowercase());
    let allowed = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if (2..=32).contains(&username.len()) && starts_with_letter && allowed {
        return Ok(());
    }
    // Quoted (escaped) and cut: the name came from outside and may be huge.
    let shown: String = username.chars().take(40).collect();
    let cut = if shown.len() < username.len() {
        "…"
    } else {
        ""
    };
    Err(ApiError::invalid(format!(
        "username {shown:?}{cut} is not valid: {USERNAME_RULES}"
    )))
}

pub fn validate_password(password: &str) -> Result<(), ApiError> {
    if (MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "password must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes long"
        )))
    }
}

pub fn validate_pin(pin: &str) -> Result<(), ApiError> {
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::invalid(PIN_RULES))
    }
}

/// Longest a merchant's display name may be, in characters.
pub const MAX_MERCHANT_NAME_CHARS: usize = 64;

/// A merchant's display name is shown beside every invoice: printable text, no control or
/// direction-changing characters (which could make one shop's name read as another's).
pub fn validate_merchant_name(name: &str) -> Result<(), ApiError> {
    let refuse = |why: String| Err(ApiError::invalid(format!("merchant name {name:?} {why}")));
    let count = name.chars().count();
    if name.trim().is_empty() {
        return refuse("is empty; give the shop's name, like \"Quid Coffee\"".into());
    }
    if count > MAX_MERCHANT_NAME_CHARS {
        return refuse(format!(
            "is {count} characters long; at most {MAX_MERCHANT_NAME_CHARS}"
        ));
    }
    let hidden = name.chars().enumerate().find(|(_, c)| {
        c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    });
    match hidden {
        Some((at, c)) => refuse(format!(
            "has an invisible control character (U+{:04X}) at character {}; use printable text",
            u32::from(c),
            at + 1
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merchant_name_is_printable_and_the_refusal_says_why() {
        assert!(validate_merchant_name("Quid Coffee").is_ok());
        let why = |name: &str| validate_merchant_name(name).unwrap_err().message;
        assert!(why("Quid\u{7}Coffee").contains("(U+0007) at character 5"));
        assert!(why("\u{202e}eeffoC").contains("(U+202E) at character 1"));
        assert!(why("  ").contains("is empty"));
        assert!(why(&"x".repeat(65)).contains("65 characters long; at most 64"));
    }

    #[test]
    fn a_pin_is_four_to_twelve_digits() {
        assert!(validate_pin("2468").is_ok());
        assert!(validate_pin("123456789012").is_ok());
        for bad in ["123", "1234567890123", "12a4", " 1234", "١٢٣٤"] {
            assert!(validate_pin(bad).is_err(), "{bad:?}");
        }
    }
}
