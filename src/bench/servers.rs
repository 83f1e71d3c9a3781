//! Where the servers under test keep their data, and how many there are: a temporary SQLite
//! file and one `quid serve` (the default), or a PostgreSQL database given with `--postgres`
//! and `--nodes` servers on it, the clients spread over them in turn.

use super::ServerChild;
use crate::store::Store;
use crate::store::location::{Location, parse_db};
use anyhow::{Context, anyhow};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, clap::Args)]
pub struct ServersArgs {
    /// Run the servers on this PostgreSQL database (postgres://USER@HOST:PORT/DB) instead of a
    /// temporary SQLite file; the benchmark adds its own accounts and leaves them there
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Servers sharing the database, the clients spread over them (more than one needs
    /// --postgres)
    #[arg(long, default_value_t = 1, value_name = "N")]
    nodes: usize,
}

/// The database of one run and how to start its servers.
pub struct Servers {
    /// What `quid serve --db` is given (a PostgreSQL URL keeps its password here).
    db_arg: String,
    pub store: Arc<Store>,
    nodes: usize,
    /// Starts every account name of this run, so that runs can share a PostgreSQL database.
    pub prefix_tag: String,
}

impl ServersArgs {
    /// Opens the run's database: `sqlite_file` unless `--postgres` was given.
    pub fn open(&self, sqlite_file: &Path) -> anyhow::Result<Servers> {
        anyhow::ensure!(self.nodes >= 1, "--nodes must be at least 1");
        let (db_arg, prefix_tag) = match &self.postgres {
            Some(url) => {
                let tag: String = (0..4)
                    .map(|_| rand::random_range(b'a'..=b'z') as char)
                    .collect();
                (url.clone(), format!("{tag}_"))
            }
            None => {
                anyhow::ensure!(self.nodes == 1, "--nodes above 1 needs --postgres");
                (sqlite_file.to_string_lossy().into_owned(), String::new())
            }
        };
        let location = parse_db(&db_arg).map_err(|e| anyhow!("--postgres: {e}"))?;
        if self.postgres.is_some() && !matches!(location, Location::Postgres(_)) {
            anyhow::bail!("--postgres takes a postgres:// URL");
        }
        let store = blocking(|| Store::open(&location))
            .with_context(|| format!("cannot open the benchmark's database {location}"))?;
        Ok(Servers {
            db_arg,
            store,
            nodes: self.nodes,
            prefix_tag,
        })
    }
}

impl Servers {
    /// Starts the nodes, each with `extra` arguments.
    pub fn start(&self, extra: &[&str]) -> anyhow::Result<Vec<ServerChild>> {
        (0..self.nodes)
            .map(|_| super::start_quid(&self.db_arg, extra))
            .collect()
    }

    /// For tables: the backend and the number of nodes.
    pub fn describe(&self) -> String {
        match self.store.location() {
            Location::Sqlite(_) => "SQLite".into(),
            Location::Postgres(_) if self.nodes == 1 => "PostgreSQL, 1 node".into(),
            Location::Postgres(_) => format!("PostgreSQL, {} nodes", self.nodes),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.store.postgres_node().is_some()
    }

    /// What the names of this run's accounts of a kind start with (`payer` gives `payer0`,
    /// `payer1`, ... on SQLite; `payerabcd_0`, ... on PostgreSQL).
    pub fn prefix(&self, kind: &str) -> String {
        format!("{kind}{}", self.prefix_tag)
    }
}

/// Runs blocking database work from the benchmark's async code (PostgreSQL's client must not
/// run on an async thread; `quid` runs on tokio's multi-thread runtime).
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
