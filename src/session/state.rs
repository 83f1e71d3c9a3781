//! What a client keeps on disk per profile: where it is in its event streams (the last seq of
//! its own, the last position in each conversation's log), and the outbox of messages not yet
//! acknowledged. One small SQLite file, `state.db`, in the profile's data dir.
//! The session token lives beside it in `token`, readable by the owner only.

use super::target::Target;
use crate::protocol::{ClientMsgId, ConversationId, MessageId, Position, Seq};
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("client state {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("client state {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("client state {path}: outbox entry has an unreadable {what}")]
    Corrupt { path: PathBuf, what: &'static str },
}

/// A message waiting to be acknowledged by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub client_id: ClientMsgId,
    pub target: Target,
    pub text: String,
    /// The message this one answers.
    pub reply_to: Option<MessageId>,
}

pub struct ClientState {
    path: PathBuf,
    /// Outbox and identity: `synchronous=FULL`, a queued message survives a power loss.
    conn: Connection,
    /// The stream position alone, written once per event: `synchronous=NORMAL`, which survives
    /// a crash of the process but may lose the last positions to a power loss. Those events are
    /// then delivered again; a full sync per event would cap catch-up near 6k events/s.
    position: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    position  INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    target    TEXT NOT NULL,
    text      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    conversation_id INTEGER PRIMARY KEY,
    pos             INTEGER NOT NULL
);";

/// Outboxes made before replies existed lack the column for them.
fn add_reply_column(conn: &Connection) -> rusqlite::Result<()> {
    let present: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('outbox') WHERE name = 'reply_to'",
        [],
        |row| row.get(0),
    )?;
    if !present {
        conn.execute_batch("ALTER TABLE outbox ADD COLUMN reply_to INTEGER")?;
    }
    Ok(())
}

impl ClientState {
    pub fn open(dir: &Path) -> Result<ClientState, StateError> {
        create_private_dir(dir)?;
        let path = dir.join("state.db");
        let sql = |source| StateError::Sql {
            path: path.clone(),
            source,
        };
        let conn = open_connection(&path, "FULL").map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        add_reply_column(&conn).map_err(sql)?;
        let position = open_connection(&path, "NORMAL").map_err(sql)?;
        Ok(ClientState {
            path,
            conn,
            position,
        })
    }

    fn sql(&self, source: rusqlite::Error) -> StateError {
        StateError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    pub fn last_seq(&self) -> Result<Seq, StateError> {
        let value: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(Seq(value.and_then(|v| v.parse().ok()).unwrap_or(0)))
    }

    pub fn set_last_seq(&self, seq: Seq) -> Result<(), StateError> {
        self.position
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('last_seq', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut statement| statement.execute([seq.0.to_string()]))
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The last position held in each conversation's log.
    pub fn positions(&self) -> Result<Vec<(ConversationId, Position)>, StateError> {
        let read = || -> rusqlite::Result<Vec<(ConversationId, Position)>> {
            let mut statement = self
                .conn
                .prepare("SELECT conversation_id, pos FROM positions ORDER BY conversation_id")?;
            statement
                .query_map([], |row| {
                    Ok((ConversationId(row.get(0)?), Position(row.get(1)?)))
                })?
                .collect()
        };
        read().map_err(|e| self.sql(e))
    }

    /// Records that the client holds `conversation_id`'s log up to `pos` (written as the seq
    /// is: once per event, `synchronous=NORMAL`).
    pub fn set_position(
        &self,
        conversation_id: ConversationId,
        pos: Position,
    ) -> Result<(), StateError> {
        self.position
            .prepare_cached(
                "INSERT INTO positions (conversation_id, pos) VALUES (?1, ?2)
                 ON CONFLICT (conversation_id) DO UPDATE SET pos = excluded.pos",
            )
            .and_then(|mut statement| statement.execute([conversation_id.0, pos.0]))
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Forgets the positions of these conversations (the server replays them from the start).
    pub fn forget_positions(&self, conversations: &[ConversationId]) -> Result<(), StateError> {
        for id in conversations {
            self.position
                .execute("DELETE FROM positions WHERE conversation_id = ?1", [id.0])
                .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    /// The user this state belongs to; a login as someone else starts the stream afresh.
    pub fn username(&self) -> Result<Option<String>, StateError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'username'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Records who is logged in; if that is a different user, forgets the old stream position.
    pub fn set_username(&self, username: &str) -> Result<(), StateError> {
        if self.username()?.as_deref() != Some(username) {
            self.set_last_seq(Seq::ZERO)?;
            self.position
                .execute("DELETE FROM positions", [])
                .map_err(|e| self.sql(e))?;
        }
        self.set_meta("username", username)
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    pub fn enqueue(&self, item: &OutboxItem) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO outbox (client_id, target, text, reply_to) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    item.client_id.0.to_string(),
                    item.target.to_string(),
                    item.text,
                    item.reply_to.map(|r| r.0),
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The oldest waiting message, if any.
    pub fn next_outbox(&self) -> Result<Option<OutboxItem>, StateError> {
        let row: Option<(String, String, String, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT client_id, target, text, reply_to FROM outbox ORDER BY position LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let Some((client_id, target, text, reply_to)) = row else {
            return Ok(None);
        };
        let corrupt = |what| StateError::Corrupt {
            path: self.path.clone(),
            what,
        };
        Ok(Some(OutboxItem {
            client_id: ClientMsgId(
                uuid::Uuid::parse_str(&client_id).map_err(|_| corrupt("client id"))?,
            ),
            target: target.parse().map_err(|_| corrupt("target"))?,
            text,
            reply_to: reply_to.map(MessageId),
        }))
    }

    pub fn remove_outbox(&self, client_id: ClientMsgId) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM outbox WHERE client_id = ?1",
                [client_id.0.to_string()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    pub fn outbox_len(&self) -> Result<usize, StateError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(|e| self.sql(e))
    }
}

fn open_connection(path: &Path, synchronous: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(conn)
}

fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    set_owner_only(dir, 0o700).map_err(io)
}

#[cfg(unix)]
fn set_owner_only(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_owner_only(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

fn token_path(dir: &Path) -> PathBuf {
    dir.join("token")
}

/// The saved session token, if this profile is logged in.
pub fn read_token(dir: &Path) -> Result<Option<String>, StateError> {
    let path = token_path(dir);
    match std::fs::read_to_string(&path) {
        Ok(token) => Ok(Some(token.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io { path, source }),
    }
}

/// Saves the token with mode 0600, created so that it is never readable by others.
pub fn write_token(dir: &Path, token: &str) -> Result<(), StateError> {
    create_private_dir(dir)?;
    let path = token_path(dir);
    let io = |source| StateError::Io {
        path: path.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(io)?;
    set_owner_only(&path, 0o600).map_err(io)?;
    std::io::Write::write_all(&mut file, token.as_bytes()).map_err(io)
}

pub fn delete_token(dir: &Path) -> Result<(), StateError> {
    let path = token_path(dir);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_is_first_in_first_out_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutboxItem {
            client_id: ClientMsgId::random(),
            target: Target::User("bob".into()),
            text: "one".into(),
            reply_to: None,
        };
        let second = OutboxItem {
            client_id: ClientMsgId::random(),
            target: Target::Group("team".into()),
            text: "two".into(),
            reply_to: Some(MessageId(7)),
        };
        {
            let state = ClientState::open(dir.path()).unwrap();
            state.enqueue(&first).unwrap();
            state.enqueue(&second).unwrap();
            state.set_last_seq(Seq(42)).unwrap();
        }
        let state = ClientState::open(dir.path()).unwrap();
        assert_eq!(state.last_seq().unwrap(), Seq(42));
        assert_eq!(state.next_outbox().unwrap(), Some(first.clone()));
        state.remove_outbox(first.client_id).unwrap();
        assert_eq!(state.next_outbox().unwrap(), Some(second));
        assert_eq!(state.outbox_len().unwrap(), 1);
    }

    #[test]
    fn another_user_resets_the_stream_position() {
        let dir = tempfile::tempdir().unwrap();
        let state = ClientState::open(dir.path()).unwrap();
        state.set_username("alice").unwrap();
        state.set_last_seq(Seq(9)).unwrap();
        state.set_position(ConversationId(3), Position(7)).unwrap();
        state.set_position(ConversationId(3), Position(8)).unwrap();
        state.set_position(ConversationId(5), Position(1)).unwrap();
        state.set_username("alice").unwrap();
        assert_eq!(state.last_seq().unwrap(), Seq(9));
        let held = vec![
            (ConversationId(3), Position(8)),
            (ConversationId(5), Position(1)),
        ];
        assert_eq!(state.positions().unwrap(), held);
        state.forget_positions(&[ConversationId(5)]).unwrap();
        assert_eq!(state.positions().unwrap(), held[..1]);
        state.set_username("bob").unwrap();
        assert_eq!(state.last_seq().unwrap(), Seq::ZERO);
        assert_eq!(state.positions().unwrap(), []);
    }

    #[cfg(unix)]
    #[test]
    fn token_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write_token(dir.path(), "secret").unwrap();
        let mode = std::fs::metadata(dir.path().join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_token(dir.path()).unwrap().as_deref(), Some("secret"));
        delete_token(dir.path()).unwrap();
        assert_eq!(read_token(dir.path()).unwrap(), None);
    }
}
