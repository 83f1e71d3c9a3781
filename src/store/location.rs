//! Where a server's data lives, as given to `--db`: a SQLite file path, or a PostgreSQL URL
//! (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`). A value that looks like a URL of any other
//! scheme is refused rather than taken for a file name (`mysql://h/db` would otherwise create
//! a folder named `mysql:`).

use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(Box<postgres::Config>),
}

/// Parses a `--db` value; the error says what was wrong with it, for clap to print.
pub fn parse_db(value: &str) -> Result<Location, String> {
    if value.trim().is_empty() {
        return Err("the database path is empty".into());
    }
    let Some(scheme) = url_scheme(value) else {
        return Ok(Location::Sqlite(PathBuf::from(value)));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => parse_postgres(value),
        _ => Err(format!(
            "unknown database scheme \"{scheme}://\"; give a SQLite file path or a \
             postgres:// URL"
        )),
    }
}

fn parse_postgres(url: &str) -> Result<Location, String> {
    let config: postgres::Config = url.parse().map_err(|e| {
        format!("not a PostgreSQL URL ({e}); expected postgres://USER@HOST:PORT/DB")
    })?;
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(
            "sslmode=require: this build connects to PostgreSQL without TLS; \
                    reach it over a private network or a local socket"
                .into(),
        );
    }
    if config.get_dbname().is_none() {
        return Err("the PostgreSQL URL names no database; end it with /DB".into());
    }
    Ok(Location::Postgres(Box::new(config)))
}

/// The scheme of `value` if it starts like a URL (`letters://`), as RFC 3986 spells one.
fn url_scheme(value: &str) -> Option<&str> {
    let (scheme, _) = value.split_once("://")?;
    let mut chars = scheme.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_is_scheme = chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (starts_with_letter && rest_is_scheme).then_some(scheme)
}

/// For logs and messages: the file, or the URL without its password.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(config) => {
                write!(f, "postgres://")?;
                if let Some(user) = config.get_user() {
                    write!(f, "{user}@")?;
                }
                let hosts: Vec<String> = config
                    .get_hosts()
                    .iter()
                    .map(|host| match host {
                        postgres::config::Host::Tcp(name) => name.clone(),
                        postgres::config::Host::Unix(path) => path.display().to_string(),
                    })
                    .collect();
                write!(f, "{}", hosts.join(","))?;
                if let Some(port) = config.get_ports().first() {
                    write!(f, ":{port}")?;
                }
                write!(f, "/{}", config.get_dbname().unwrap_or_default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(value: &str) -> Option<PathBuf> {
        match parse_db(value) {
            Ok(Location::Sqlite(path)) => Some(path),
            _ => None,
        }
    }

    #[test]
    fn file_paths_are_sqlite_files() {
        assert_eq!(sqlite("server.db"), Some(PathBuf::from("server.db")));
        assert_eq!(
            sqlite("/var/lib/quid/a:b.db"),
            Some(PathBuf::from("/var/lib/quid/a:b.db"))
        );
        assert_eq!(sqlite("./x://y"), Some(PathBuf::from("./x://y")));
        assert!(parse_db("  ").is_err());
    }

    #[test]
    fn postgres_urls_are_taken_and_shown_without_their_password() {
        let location = parse_db("postgres://quid:s3cret@db.internal:5433/chat").unwrap();
        assert!(matches!(location, Location::Postgres(_)));
        assert_eq!(
            location.to_string(),
            "postgres://quid@db.internal:5433/chat"
        );
        assert!(!format!("{location:?}").contains("s3cret"));
        assert!(parse_db("postgresql://quid@db/chat").is_ok());
    }

    #[test]
    fn other_schemes_and_unusable_urls_are_refused_with_a_reason() {
        let unknown = parse_db("mysql://quid@db/quid").unwrap_err();
        assert!(unknown.contains("\"mysql://\""), "{unknown}");
        let no_db = parse_db("postgres://quid@db:5432").unwrap_err();
        assert!(no_db.contains("names no database"), "{no_db}");
        let tls = parse_db("postgres://quid@db/chat?sslmode=require").unwrap_err();
        assert!(tls.contains("without TLS"), "{tls}");
        let bad_port = parse_db("postgres://quid@db:port/chat").unwrap_err();
        assert!(bad_port.contains("not a PostgreSQL URL"), "{bad_port}");
    }
}
