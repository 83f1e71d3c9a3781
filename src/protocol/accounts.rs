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
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "username {username:?} is not valid: {USERNAME_RULES}"
        )))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_four_to_twelve_digits() {
        assert!(validate_pin("2468").is_ok());
        assert!(validate_pin("123456789012").is_ok());
        for bad in ["123", "1234567890123", "12a4", " 1234", "١٢٣٤"] {
            assert!(validate_pin(bad).is_err(), "{bad:?}");
        }
    }
}
