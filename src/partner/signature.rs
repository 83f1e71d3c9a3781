//! Webhook signatures in Stripe's scheme, which the sandbox partner uses too: a header
//! `t=UNIX_SECONDS,v1=HEX[,v1=HEX...]`, each `v1` the HMAC-SHA256 of `"{t}.{body}"` under the
//! endpoint's secret, in lower-case hex. A signature is good when any `v1` matches (a partner
//! rolling its secret signs with both) and `t` is within [`TOLERANCE_SECS`] of now, so a
//! captured webhook cannot be replayed later.

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How far a signature's time may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request has no signature header")]
    Missing,
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature is {0} s from now; at most {TOLERANCE_SECS} s are accepted")]
    Stale(i64),
    #[error("no signature matches the body under the webhook secret")]
    Mismatch,
}

/// The header value for `body` signed at `at` (Unix seconds).
pub fn sign(secret: &[u8], body: &[u8], at: i64) -> String {
    format!(
        "t={at},v1={}",
        hex::encode(mac(secret, at, body).finalize().into_bytes())
    )
}

/// Checks `header` against `body` at `now` (Unix seconds).
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (at, signatures) = parse(header)?;
    let age = now.saturating_sub(at);
    if age.abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale(age));
    }
    let matches = signatures.iter().any(|signature| {
        hex::decode(signature).is_ok_and(|bytes| mac(secret, at, body).verify_slice(&bytes).is_ok())
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The time and the `v1` signatures of a header; other schemes (`v0`) are ignored.
fn parse(header: &str) -> Result<(i64, Vec<&str>), SignatureError> {
    let mut at = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("each part is KEY=VALUE"))?;
        match key {
            "t" => {
                let seconds = value
                    .parse()
                    .map_err(|_| SignatureError::Malformed("t is not a number"))?;
                at = Some(seconds);
            }
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    let at = at.ok_or(SignatureError::Malformed("no t="))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1="));
    }
    Ok((at, signatures))
}

/// The MAC of `"{at}.{body}"`, ready to finish or verify.
fn mac(secret: &[u8], at: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    #[test]
    fn a_signature_made_now_verifies() {
        let header = sign(SECRET, BODY, 1_700_000_000);
        assert_eq!(verify(SECRET, Some(&header), BODY, 1_700_000_010), Ok(()));
    }

    #[test]
    fn another_body_or_secret_does_not_verify() {
        let header = sign(SECRET, BODY, 1_700_000_000);
        let other = br#"{"id":"evt_2"}"#;
        assert_eq!(
            verify(SECRET, Some(&header), other, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"whsec_other", Some(&header), BODY, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_old_or_future_signature_is_stale() {
        let header = sign(SECRET, BODY, 1_700_000_000);
        assert_eq!(
            verify(SECRET, Some(&header), BODY, 1_700_000_301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            verify(SECRET, Some(&header), BODY, 1_699_999_600),
            Err(SignatureError::Stale(-400))
        );
    }

    #[test]
    fn any_matching_v1_is_enough_and_bad_headers_say_why() {
        let good = sign(SECRET, BODY, 1_700_000_000);
        let rolled = format!("{good},v1=00ff,v0=abc");
        assert_eq!(verify(SECRET, Some(&rolled), BODY, 1_700_000_000), Ok(()));
        assert_eq!(verify(SECRET, None, BODY, 0), Err(SignatureError::Missing));
        assert_eq!(
            verify(SECRET, Some("v1=00"), BODY, 0),
            Err(SignatureError::Malformed("no t="))
        );
        assert_eq!(
            verify(SECRET, Some("t=1"), BODY, 1),
            Err(SignatureError::Malformed("no v1="))
        );
        assert_eq!(
            verify(SECRET, Some("t=x,v1=00"), BODY, 1),
            Err(SignatureError::Malformed("t is not a number"))
        );
    }
}
