//! Where a server's data lives, as given to `--db`: a SQLite file path. A value that looks
//! like a URL is refused rather than taken for a file name (`postgres://h/db` would otherwise
//! create a folder named `postgres:`).

use std::path::PathBuf;

/// Parses a `--db` value; the error says what was wrong with it, for clap to print.
pub fn parse_db(value: &str) -> Result<PathBuf, String> {
    if value.trim().is_empty() {
        return Err("the database path is empty".into());
    }
    if let Some(scheme) = url_scheme(value) {
        return Err(match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => {
                "PostgreSQL is not supported by this build yet; give a SQLite file path".into()
            }
            _ => format!("unknown database scheme \"{scheme}://\"; give a SQLite file path"),
        });
    }
    Ok(PathBuf::from(value))
}

/// The scheme of `value` if it starts like a URL (`letters://`), as RFC 3986 spells one.
fn url_scheme(value: &str) -> Option<&str> {
    let (scheme, _) = value.split_once("://")?;
    let mut chars = scheme.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_is_scheme = chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (starts_with_letter && rest_is_scheme).then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_are_taken_and_urls_are_refused_with_a_reason() {
        assert_eq!(parse_db("server.db"), Ok(PathBuf::from("server.db")));
        assert_eq!(
            parse_db("/var/lib/quid/a:b.db"),
            Ok(PathBuf::from("/var/lib/quid/a:b.db"))
        );
        assert_eq!(parse_db("./x://y"), Ok(PathBuf::from("./x://y")));
        let postgres = parse_db("postgres://quid@db:5432/quid").unwrap_err();
        assert!(postgres.contains("PostgreSQL"), "{postgres}");
        let unknown = parse_db("mysql://quid@db/quid").unwrap_err();
        assert!(unknown.contains("\"mysql://\""), "{unknown}");
        assert!(parse_db("  ").is_err());
    }
}
