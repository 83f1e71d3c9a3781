//! A throwaway PostgreSQL cluster for a test: the distribution's binaries, `initdb` into a
//! temporary directory (as the `postgres` user when the test runs as root, which `initdb`
//! refuses), started on a free loopback port, stopped and deleted when dropped.
//! `.ci/run` installs the package when it is missing; a test skips, loudly, only when no
//! binaries can be found at all.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Runs the server's commands as this user (root cannot run PostgreSQL).
    run_as: Option<String>,
    /// Whether the server runs: a test may stop it and start it again.
    running: AtomicBool,
}

impl PgCluster {
    /// A started cluster, or `None` (with a message on stderr) when PostgreSQL is not installed.
    /// Everyone may connect as anyone, without a password.
    pub fn start() -> Option<PgCluster> {
        Self::start_with(&["--auth=trust"])
    }

    /// As [`PgCluster::start`], but a connection over TCP needs its role's password, as on a
    /// database host set up by hand; the local socket ([`PgCluster::socket_dir`]) still
    /// trusts, as `sudo -u postgres` on that host would be.
    pub fn requiring_passwords() -> Option<PgCluster> {
        Self::start_with(&["--auth-local=trust", "--auth-host=scram-sha-256"])
    }

    fn start_with(authentication: &[&str]) -> Option<PgCluster> {
        let Some(bin) = binaries() else {
            eprintln!(
                "SKIPPED: no PostgreSQL binaries (initdb, pg_ctl) found; install the distribution's \
                 postgresql package (.ci/run does) or set QUID_PG_BIN"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let run_as = is_root().then(|| "postgres".to_owned());
        if run_as.is_some() {
            give_to_postgres(dir.path());
        }
        let port = free_port();
        let cluster = PgCluster {
            dir,
            bin,
            port,
            run_as,
            running: AtomicBool::new(false),
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data().to_string_lossy(),
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-sync",
            ]
            .into_iter()
            .chain(authentication.iter().copied())
            .collect::<Vec<_>>(),
        );
        cluster.start_again();
        Some(cluster)
    }

    /// Starts the server (again, after [`PgCluster::crash`]) and waits until it accepts
    /// connections.
    pub fn start_again(&self) {
        // No fsync: the tests kill quid or PostgreSQL, never the machine, so what PostgreSQL
        // has written survives them, and a commit costs no disk flush. Commits stay
        // synchronous: a crashed PostgreSQL must keep every commit it acknowledged.
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-o",
                &options,
                "-l",
                &self.dir.path().join("server.log").to_string_lossy(),
                "-w",
                "start",
            ],
        );
        self.running.store(true, Ordering::SeqCst);
    }

    /// Stops the server as a crash would (`-m immediate`: every connection cut, recovery
    /// from the write-ahead log on the next start).
    pub fn crash(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "immediate",
                "stop",
            ],
        );
        self.running.store(false, Ordering::SeqCst);
    }

    /// One cluster for the whole test binary, started on first use; each test makes a
    /// database of its own on it ([`PgCluster::new_database`]). A static is never dropped, so a
    /// watcher process stops the cluster and deletes its files once this process has ended.
    pub fn shared() -> Option<&'static PgCluster> {
        static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let cluster = PgCluster::start()?;
                cluster.stop_after_this_process();
                Some(cluster)
            })
            .as_ref()
    }

    /// The URL quid is given: the `postgres` superuser's database on this cluster.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    fn url_of(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new, empty database on this cluster; returns its URL.
    pub fn new_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("quid_test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.client()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        self.url_of(&name)
    }

    fn stop_after_this_process(&self) {
        let prefix = match &self.run_as {
            Some(user) => format!("runuser -u {user} -- "),
            None => String::new(),
        };
        // In the background of a shell that exits at once: the watcher is nobody's child.
        let script = format!(
            "(while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {prefix}{pg_ctl} -D {data} -m immediate stop; rm -rf {dir}) &",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data().display(),
            dir = self.dir.path().display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("start the cluster's watcher");
    }

    /// A client connected to the cluster.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).expect("connect to the cluster")
    }

    /// The TCP port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where its local socket is.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where its programs are: `createuser`, `createdb`, `psql` and the rest.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The cluster's data directory: its tables and its write-ahead log.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&program);
                command
            }
            None => Command::new(&program),
        };
        let output = command
            .args(args)
            .output()
            .expect("run a PostgreSQL binary");
        assert!(
            output.status.success(),
            "{} {args:?}: {}\n{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running.load(Ordering::SeqCst) {
            self.crash();
        }
    }
}

/// Where `initdb` and `pg_ctl` are: `QUID_PG_BIN`, else the newest of Debian's
/// `/usr/lib/postgresql/N/bin`.
fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("QUID_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// The temporary directory becomes the `postgres` user's, so that its server can write there.
fn give_to_postgres(dir: &Path) {
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(dir)
        .status()
        .expect("chown");
    assert!(
        status.success(),
        "cannot give {} to postgres",
        dir.display()
    );
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}
