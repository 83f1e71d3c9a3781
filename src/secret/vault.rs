//! The profile's secret store on disk: `secret.db` in its data dir, a SQLite file whose
//! secrets (the Olm account and sessions, decrypted messages) are each sealed with
//! XChaCha20-Poly1305 under one key. The key comes from argon2id over a passphrase, or, when
//! the user chose none, from `secret.key` beside it (32 random bytes, mode 0600). Each sealed
//! value is bound to where it is kept (its table and row), so values cannot be swapped.
//! What stays in the clear: which conversation and message ids, senders and times it holds.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The store's file in a profile's data dir.
pub const VAULT_FILE: &str = "secret.db";
/// Its key when no passphrase protects it.
pub const KEY_FILE: &str = "secret.key";

/// A known text sealed under the key, to tell a wrong passphrase from a damaged store.
const CHECK: &[u8] = b"quid secret store";
const NONCE_BYTES: usize = 24;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    session_id   TEXT PRIMARY KEY,
    device       TEXT NOT NULL,
    last_used_ms INTEGER NOT NULL,
    sealed       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_device ON sessions(device, last_used_ms);
-- Each sealed message once opened: its text, or why it could not be read.
CREATE TABLE IF NOT EXISTS messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL,
    sealed          BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id);
-- SHA-256 of every ciphertext opened, so that a replay is dropped before decryption.
CREATE TABLE IF NOT EXISTS seen (digest BLOB PRIMARY KEY, message_id INTEGER NOT NULL);
-- Disappearing messages: when each goes (the time sealed inside it), and each conversation's
-- timer (seconds) as its last announcement set it.
CREATE TABLE IF NOT EXISTS expiring (message_id INTEGER PRIMARY KEY, expires_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS timers (conversation_id INTEGER PRIMARY KEY, seconds INTEGER NOT NULL);
-- Identity keys pinned on first use, per contact and device.
CREATE TABLE IF NOT EXISTS pins (
    username TEXT NOT NULL,
    device   TEXT NOT NULL,
    ed25519  TEXT NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (username, device)
);
";

/// Changes to `SCHEMA` since stores were first made, in order: `PRAGMA user_version` counts
/// those applied. Each runs once, in a transaction.
const MIGRATIONS: &[&str] = &[
    // 1: an opened message is bound to who sent it, from which device, and what ciphertext
    // (rows from before have NULLs: `secret::opened` checks them the old way, then binds them);
    // the devices a warning showed, which accepting pins; conversations known to be secret.
    "ALTER TABLE messages ADD COLUMN sender TEXT;
     ALTER TABLE messages ADD COLUMN sender_device TEXT;
     ALTER TABLE messages ADD COLUMN digest BLOB;
     CREATE TABLE shown_devices (
         username TEXT NOT NULL,
         device   TEXT NOT NULL,
         ed25519  TEXT NOT NULL,
         PRIMARY KEY (username, device)
     );
     CREATE TABLE secret_conversations (conversation_id INTEGER PRIMARY KEY);",
    // 2: secret messages written while offline, their text sealed at rest, until sent.
    "CREATE TABLE outbox (
         client_id       TEXT PRIMARY KEY,
         conversation_id INTEGER NOT NULL,
         other           TEXT NOT NULL,
         queued_at_ms    INTEGER NOT NULL,
         sealed          BLOB NOT NULL
     );",
];

/// argon2id's cost for a new passphrase-protected store: 64 MiB and 3 passes (OWASP's
/// second-strongest recommendation; about a quarter of a second here), kept beside the salt.
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_PASSES: u32 = 3;
/// What stores made before the cost was kept used: argon2's defaults then.
const LEGACY_KDF_PARAMS: &str = "m=19456,t=2,p=1";

/// How the store's key is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlock {
    /// From `secret.key` (made with the store when there is none).
    KeyFile,
    /// From argon2id over this passphrase (set when the store is made).
    Passphrase(String),
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{path}: wrong passphrase for the secret store")]
    WrongPassphrase { path: PathBuf },
    #[error("{path} is protected by a passphrase: give it to open secret conversations")]
    NeedsPassphrase { path: PathBuf },
    #[error("{path} uses its key file, not a passphrase")]
    NoPassphrase { path: PathBuf },
    #[error("key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path}: {what} is damaged or was tampered with: it does not decrypt")]
    Damaged { path: PathBuf, what: String },
    #[error("{path}: cannot derive the key from the passphrase ({reason}): refused")]
    Kdf { path: PathBuf, reason: String },
}

/// An open secret store: its file and its key.
pub struct Vault {
    conn: Connection,
    cipher: XChaCha20Poly1305,
    path: PathBuf,
}

impl Vault {
    /// Opens the store in `dir`, or makes it there (with its key file, or protected by the
    /// passphrase given).
    pub fn open(dir: &Path, unlock: &Unlock) -> Result<Vault, VaultError> {
        let path = dir.join(VAULT_FILE);
        let sqlite = |source| VaultError::Sqlite {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| VaultError::KeyFile {
            path: dir.to_owned(),
            reason: format!("cannot create the data dir: {e}"),
        })?;
        let conn = Connection::open(&path).map_err(sqlite)?;
        // secure_delete: what is deleted (a disappearing message) is overwritten with zeros,
        // not left in free pages.
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| conn.pragma_update(None, "secure_delete", "ON"))
            .and_then(|()| conn.execute_batch(SCHEMA))
            .and_then(|()| migrate(&conn))
            .map_err(sqlite)?;
        let stored_kdf: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE name = 'kdf'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(sqlite)?;
        let key = match (stored_kdf.as_deref(), unlock) {
            (None, unlock) => create_key(&conn, dir, &path, unlock)?,
            (Some("keyfile"), Unlock::KeyFile) => read_key_file(&dir.join(KEY_FILE))?,
            (Some("keyfile"), Unlock::Passphrase(_)) => {
                return Err(VaultError::NoPassphrase { path });
            }
            (Some(_), Unlock::KeyFile) => return Err(VaultError::NeedsPassphrase { path }),
            (Some(_), Unlock::Passphrase(passphrase)) => {
                let salt: Vec<u8> = conn
                    .query_row("SELECT value FROM meta WHERE name = 'salt'", [], |row| {
                        row.get(0)
                    })
                    .map_err(sqlite)?;
                let params: Option<String> = conn
                    .query_row(
                        "SELECT value FROM meta WHERE name = 'kdf_params'",
                        [],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sqlite)?;
                let params = params.as_deref().unwrap_or(LEGACY_KDF_PARAMS);
                stretch(passphrase, &salt, params).map_err(|reason| VaultError::Kdf {
                    path: path.clone(),
                    reason,
                })?
            }
        };
        let vault = Vault {
            conn,
            cipher: XChaCha20Poly1305::new(&key.into()),
            path,
        };
        vault.check_key()?;
        Ok(vault)
    }

    /// Whether the store in `dir` exists and wants a passphrase.
    pub fn wants_passphrase(dir: &Path) -> Result<bool, VaultError> {
        let path = dir.join(VAULT_FILE);
        if !path.exists() {
            return Ok(false);
        }
        let conn = Connection::open(&path).map_err(|source| VaultError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let kdf: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE name = 'kdf'", [], |row| {
                row.get(0)
            })
            .optional()
            .unwrap_or(None);
        Ok(kdf.as_deref() == Some("argon2id"))
    }

    /// The check value decrypts only under the right key.
    fn check_key(&self) -> Result<(), VaultError> {
        let sealed: Vec<u8> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'check'", [], |row| {
                row.get(0)
            })
            .map_err(|source| self.sqlite(source))?;
        match self.unseal("meta:check", &sealed) {
            Ok(text) if text == CHECK => Ok(()),
            _ if self.kdf_is_passphrase() => Err(VaultError::WrongPassphrase {
                path: self.path.clone(),
            }),
            _ => Err(VaultError::Damaged {
                path: self.path.clone(),
                what: "its key check (is secret.key the one made with it?)".into(),
            }),
        }
    }

    fn kdf_is_passphrase(&self) -> bool {
        self.conn
            .query_row("SELECT value FROM meta WHERE name = 'kdf'", [], |row| {
                row.get::<_, String>(0)
            })
            .map(|kdf| kdf == "argon2id")
            .unwrap_or(false)
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sqlite(&self, source: rusqlite::Error) -> VaultError {
        VaultError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Copies the write-ahead log into the file and empties it: after a secure delete, so the
    /// log keeps no copy of what was deleted.
    pub fn checkpoint(&self) -> Result<(), VaultError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|source| self.sqlite(source))
    }

    /// `plain` encrypted for the row `place` names ("messages:41"): a fresh random nonce,
    /// then the ciphertext.
    pub fn seal(&self, place: &str, plain: &[u8]) -> Vec<u8> {
        seal_with(&self.cipher, place, plain)
    }

    /// What `seal` sealed for `place`; anything else is refused.
    pub fn unseal(&self, place: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let damaged = || VaultError::Damaged {
            path: self.path.clone(),
            what: place.to_owned(),
        };
        if sealed.len() < NONCE_BYTES {
            return Err(damaged());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| damaged())?;
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| damaged())
    }
}

fn seal_with(cipher: &XChaCha20Poly1305, place: &str, plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::fill(&mut nonce);
    let mut sealed = nonce.to_vec();
    // Encryption fails only for inputs of gigabytes; a message is at most a frame.
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain,
                aad: place.as_bytes(),
            },
        )
        .unwrap_or_default();
    sealed.extend(ciphertext);
    sealed
}

/// A new store's key, recorded in `meta`: a key file's, or a passphrase's (with its salt).
fn create_key(
    conn: &Connection,
    dir: &Path,
    path: &Path,
    unlock: &Unlock,
) -> Result<[u8; 32], VaultError> {
    let params = format!("m={KDF_MEMORY_KIB},t={KDF_PASSES},p=1");
    let (kdf, key, salt) = match unlock {
        Unlock::KeyFile => ("keyfile", write_key_file(&dir.join(KEY_FILE))?, Vec::new()),
        Unlock::Passphrase(passphrase) => {
            let mut salt = vec![0u8; 16];
            rand::fill(&mut salt[..]);
            let key = stretch(passphrase, &salt, &params).map_err(|reason| VaultError::Kdf {
                path: path.to_owned(),
                reason,
            })?;
            ("argon2id", key, salt)
        }
    };
    let check = seal_with(&XChaCha20Poly1305::new(&key.into()), "meta:check", CHECK);
    let write = || -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO meta (name, value) VALUES ('kdf', ?1), ('salt', ?2), ('check', ?3),
                 ('kdf_params', ?4)",
            rusqlite::params![kdf, salt, check, params],
        )?;
        Ok(())
    };
    write().map_err(|source| VaultError::Sqlite {
        path: path.to_owned(),
        source,
    })?;
    Ok(key)
}

/// argon2id over `passphrase` with the cost `params` names ("m=KIB,t=PASSES,p=LANES", as the
/// store keeps it): a guess costs an attacker who copied the file as much as it costs us at
/// start. Any error (parameters out of range, a salt under 8 bytes) refuses: a key made
/// anyway would be all zeros.
fn stretch(passphrase: &str, salt: &[u8], params: &str) -> Result<[u8; 32], String> {
    let mut cost = [None; 3];
    for part in params.split(',') {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let slot = match name {
            "m" => 0,
            "t" => 1,
            "p" => 2,
            _ => return Err(format!("unknown parameter {name:?} in {params:?}")),
        };
        cost[slot] = Some(value.parse::<u32>().map_err(|_| format!("{params:?}"))?);
    }
    let [Some(m), Some(t), Some(p)] = cost else {
        return Err(format!("{params:?} lacks m, t or p"));
    };
    let params = argon2::Params::new(m, t, p, Some(32)).map_err(|e| e.to_string())?;
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon2
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| e.to_string())?;
    Ok(key)
}

/// Applies the migrations this store has not had yet.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {migration}; PRAGMA user_version = {}; COMMIT;",
            index + 1
        ))?;
    }
    Ok(())
}

fn write_key_file(path: &Path) -> Result<[u8; 32], VaultError> {
    use std::io::Write;
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    let fail = |e: std::io::Error| VaultError::KeyFile {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(&key)
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    Ok(key)
}

fn read_key_file(path: &Path) -> Result<[u8; 32], VaultError> {
    let fail = |reason: String| VaultError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| fail(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "others may read it (mode {:o}); it must be 0600: chmod 600 {}",
                mode & 0o777,
                path.display()
            )));
        }
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| fail(format!("{} bytes; a key is 32", bytes.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_store_reopens_and_refuses_a_passphrase_or_an_open_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), &Unlock::KeyFile).unwrap();
        let sealed = vault.seal("messages:1", b"hello");
        drop(vault);
        let vault = Vault::open(dir.path(), &Unlock::KeyFile).unwrap();
        assert_eq!(vault.unseal("messages:1", &sealed).unwrap(), b"hello");
        assert!(
            vault.unseal("messages:2", &sealed).is_err(),
            "moved elsewhere"
        );
        assert!(!Vault::wants_passphrase(dir.path()).unwrap());
        let refused = Vault::open(dir.path(), &Unlock::Passphrase("x".into()));
        assert!(matches!(refused, Err(VaultError::NoPassphrase { .. })));

        let key_file = dir.path().join(KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let error = Vault::open(dir.path(), &Unlock::KeyFile)
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains("it must be 0600"), "{error}");
        }
    }

    #[test]
    fn the_kdf_cost_is_kept_with_the_salt_and_any_kdf_error_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let unlock = Unlock::Passphrase("correct horse".into());
        drop(Vault::open(dir.path(), &unlock).unwrap());
        let conn = Connection::open(dir.path().join(VAULT_FILE)).unwrap();
        let params: String = conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'kdf_params'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(params, format!("m={KDF_MEMORY_KIB},t={KDF_PASSES},p=1"));
        // A salt cut below argon2's minimum would have made an all-zero key: refused.
        conn.execute("UPDATE meta SET value = x'0102' WHERE name = 'salt'", [])
            .unwrap();
        let error = Vault::open(dir.path(), &unlock).err().unwrap();
        assert!(matches!(error, VaultError::Kdf { .. }), "{error}");
        conn.execute(
            "UPDATE meta SET value = 'm=1,t=0,p=1' WHERE name = 'kdf_params'",
            [],
        )
        .unwrap();
        assert!(matches!(
            Vault::open(dir.path(), &unlock),
            Err(VaultError::Kdf { .. })
        ));
    }

    #[test]
    fn a_passphrase_store_opens_only_with_its_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), &Unlock::Passphrase("correct horse".into())).unwrap();
        let sealed = vault.seal("account:1", b"keys");
        drop(vault);
        assert!(Vault::wants_passphrase(dir.path()).unwrap());
        let wrong = Vault::open(dir.path(), &Unlock::Passphrase("wrong horse".into()));
        assert!(matches!(wrong, Err(VaultError::WrongPassphrase { .. })));
        let none = Vault::open(dir.path(), &Unlock::KeyFile);
        assert!(matches!(none, Err(VaultError::NeedsPassphrase { .. })));
        let vault = Vault::open(dir.path(), &Unlock::Passphrase("correct horse".into())).unwrap();
        assert_eq!(vault.unseal("account:1", &sealed).unwrap(), b"keys");
        let mut tampered = sealed;
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let error = vault
            .unseal("account:1", &tampered)
            .unwrap_err()
            .to_string();
        assert!(error.contains("account:1 is damaged"), "{error}");
    }
}
