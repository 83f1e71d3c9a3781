//! `Conversations` and `Messages` on SQLite: the same contracts as PostgreSQL's.

use crate::protocol::files::FileRef;
use crate::protocol::{
    ApiError, ClientMsgId, ConversationId, ConversationKind, Message, MessageId, TimestampMs, User,
    UserId,
};
use crate::store::accounts::USER_COLUMNS;
use crate::store::conversations::{ConversationHead, Membership, kind_of, not_a_member};
use crate::store::files::file_of;
use crate::store::messages::{
    FILE_COLUMN, MessageRow, NewMessage, SELECT_MESSAGE, quote, reactions_from, sealed_from,
    sealed_json,
};
use crate::store::sqlite::users::user_from_row;
use crate::store::{Cached, Conversations, Messages};
use rusqlite::{Connection, OptionalExtension, Row};

impl Conversations for Connection {
    fn unread_mentions(
        &self,
        conversation_id: ConversationId,
        after: MessageId,
        viewer: UserId,
    ) -> Result<u32, ApiError> {
        let count: i64 = self.query_row_cached(
            "SELECT COUNT(*) FROM mentions mn JOIN messages m ON m.id = mn.message_id
             WHERE mn.user_id = ?1 AND m.conversation_id = ?2 AND m.id > ?3 AND m.deleted = 0",
            [viewer.0, conversation_id.0, after.0],
            |row| row.get(0),
        )?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    fn set_muted(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
        muted: bool,
    ) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE members SET muted = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            [conversation_id.0, user_id.0, i64::from(muted)],
        )?;
        Ok(())
    }

    fn conversation_head(
        &self,
        conversation_id: ConversationId,
        viewer: UserId,
    ) -> Result<ConversationHead, ApiError> {
        Ok(self.query_row_cached(
            "SELECT c.kind, c.name, c.created_at_ms, m.last_read_id,
                 (SELECT COALESCE(MAX(o.last_read_id), 0) FROM members o
                  WHERE o.conversation_id = c.id AND o.user_id <> ?2),
                 m.muted, c.secret
             FROM conversations c JOIN members m ON m.conversation_id = c.id AND m.user_id = ?2
             WHERE c.id = ?1",
            [conversation_id.0, viewer.0],
            |row| {
                Ok(ConversationHead {
                    kind: kind_of(&row.get::<_, String>(0)?),
                    name: row.get(1)?,
                    created_at: TimestampMs(row.get(2)?),
                    last_read: MessageId(row.get(3)?),
                    others_read: MessageId(row.get(4)?),
                    muted: row.get::<_, i64>(5)? != 0,
                    secret: row.get::<_, i64>(6)? != 0,
                })
            },
        )?)
    }

    fn last_message(
        &self,
        conversation_id: ConversationId,
    ) -> Result<Option<(MessageId, TimestampMs)>, ApiError> {
        Ok(self
            .query_row_cached(
                "SELECT id, sent_at_ms FROM messages WHERE conversation_id = ?1
                 ORDER BY id DESC LIMIT 1",
                [conversation_id.0],
                |row| Ok((MessageId(row.get(0)?), TimestampMs(row.get(1)?))),
            )
            .optional()?)
    }

    fn unread_count(
        &self,
        conversation_id: ConversationId,
        after: MessageId,
        viewer: UserId,
    ) -> Result<u32, ApiError> {
        Ok(self.query_row_cached(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1 AND id > ?2 AND sender_id != ?3",
            [conversation_id.0, after.0, viewer.0],
            |row| row.get(0),
        )?)
    }

    fn conversation_ids_of(&self, user_id: UserId) -> Result<Vec<ConversationId>, ApiError> {
        Ok(self
            .prepare_cached(
                "SELECT conversation_id FROM members WHERE user_id = ?1 AND active = 1",
            )?
            .query_map([user_id.0], |row| Ok(ConversationId(row.get(0)?)))?
            .collect::<Result<_, _>>()?)
    }

    fn direct_conversation(&self, key: &str) -> Result<Option<ConversationId>, ApiError> {
        let id: Option<i64> = self
            .query_row_cached(
                "SELECT id FROM conversations WHERE direct_key = ?1",
                [key],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id.map(ConversationId))
    }

    fn insert_conversation(
        &self,
        kind: ConversationKind,
        key_or_name: &str,
        at: TimestampMs,
    ) -> Result<ConversationId, ApiError> {
        let sql = match kind {
            ConversationKind::Direct => {
                "INSERT INTO conversations (kind, direct_key, created_at_ms) VALUES ('direct', ?1, ?2)"
            }
            ConversationKind::Group => {
                "INSERT INTO conversations (kind, name, created_at_ms) VALUES ('group', ?1, ?2)"
            }
        };
        self.execute_cached(sql, rusqlite::params![key_or_name, at.0])?;
        Ok(ConversationId(self.last_insert_rowid()))
    }

    fn mark_secret(&self, conversation_id: ConversationId) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE conversations SET secret = 1 WHERE id = ?1",
            [conversation_id.0],
        )?;
        Ok(())
    }

    fn deactivate_member(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE members SET active = 0,
                 left_pos = (SELECT last_pos FROM conversations WHERE id = ?1)
             WHERE conversation_id = ?1 AND user_id = ?2",
            [conversation_id.0, user_id.0],
        )?;
        Ok(())
    }

    fn group_named(&self, user_id: UserId, name: &str) -> Result<Option<ConversationId>, ApiError> {
        let id = self
            .query_row_cached(
                "SELECT c.id FROM conversations c JOIN members m ON m.conversation_id = c.id
                 WHERE m.user_id = ?1 AND m.active = 1 AND c.kind = 'group' AND c.name = ?2",
                rusqlite::params![user_id.0, name],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id.map(ConversationId))
    }

    fn insert_member(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<(), ApiError> {
        // A returning member reads from where the conversation is now, not from where they left;
        // its log from the newest position on.
        self.execute_cached(
            "INSERT INTO members (conversation_id, user_id, last_read_id, active, joined_pos)
             VALUES (?1, ?2, (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = ?1), 1,
                 (SELECT last_pos FROM conversations WHERE id = ?1))
             ON CONFLICT (conversation_id, user_id) DO UPDATE SET active = 1,
                 last_read_id = excluded.last_read_id, joined_pos = excluded.joined_pos,
                 left_pos = NULL",
            [conversation_id.0, user_id.0],
        )?;
        Ok(())
    }

    fn membership(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<Membership, ApiError> {
        self.prepare_cached(
            "SELECT c.kind, c.secret FROM conversations c JOIN members m ON m.conversation_id = c.id
             WHERE c.id = ?1 AND m.user_id = ?2 AND m.active = 1",
        )?
        .query_row([conversation_id.0, user_id.0], |row| {
            Ok(Membership {
                kind: kind_of(&row.get::<_, String>(0)?),
                secret: row.get::<_, i64>(1)? != 0,
            })
        })
        .optional()?
        .ok_or_else(|| not_a_member(conversation_id))
    }

    fn members(&self, conversation_id: ConversationId) -> Result<Vec<User>, ApiError> {
        let mut statement = self.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.conversation_id = ?1 AND m.active = 1 ORDER BY u.username"
        ))?;
        let users = statement
            .query_map([conversation_id.0], |row| user_from_row(row, 0))?
            .collect::<Result<_, _>>()?;
        Ok(users)
    }
}

impl Messages for Connection {
    fn messages_before(
        &self,
        conversation_id: ConversationId,
        before: MessageId,
        limit: u32,
    ) -> Result<Vec<Message>, ApiError> {
        let sql = format!(
            "{SELECT_MESSAGE} WHERE m.conversation_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3"
        );
        let rows = self
            .prepare_cached(&sql)?
            .query_map(
                rusqlite::params![conversation_id.0, before.0, limit],
                row_with_card_ref,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|row| with_card(self, row)).collect()
    }

    fn insert_message(&self, message: &NewMessage, at: TimestampMs) -> Result<MessageId, ApiError> {
        let (card_kind, card_ref) = message.card.unzip();
        self.execute_cached(
            "INSERT INTO messages (conversation_id, sender_id, client_id, text, sent_at_ms, card_kind, card_ref, reply_to_id, sealed, expires_at_ms, file_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            rusqlite::params![
                message.conversation_id.0,
                message.sender.0,
                message.client_id.0.to_string(),
                message.text,
                at.0,
                card_kind,
                card_ref,
                message.reply_to.map(|r| r.0),
                sealed_json(message.sealed)?,
                message.expires_at.map(|at| at.0),
                message.file.map(|id| &id.0)
            ],
        )?;
        Ok(MessageId(self.last_insert_rowid()))
    }

    fn message_is_in(
        &self,
        id: MessageId,
        conversation_id: ConversationId,
    ) -> Result<bool, ApiError> {
        Ok(self.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2)",
            [id.0, conversation_id.0],
            |row| row.get(0),
        )?)
    }

    fn advance_read_marker(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
        up_to: MessageId,
    ) -> Result<bool, ApiError> {
        let moved = self.execute_cached(
            "UPDATE members SET last_read_id = ?3
             WHERE conversation_id = ?1 AND user_id = ?2 AND last_read_id < ?3",
            [conversation_id.0, user_id.0, up_to.0],
        )?;
        Ok(moved == 1)
    }

    fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: ClientMsgId,
    ) -> Result<Option<Message>, ApiError> {
        let sql = format!("{SELECT_MESSAGE} WHERE m.sender_id = ?1 AND m.client_id = ?2");
        let found = self
            .prepare_cached(&sql)?
            .query_row(
                rusqlite::params![sender.0, client_id.0.to_string()],
                row_with_card_ref,
            )
            .optional()?;
        found.map(|row| with_card(self, row)).transpose()
    }

    fn find_message(&self, id: MessageId) -> Result<Option<Message>, ApiError> {
        let sql = format!("{SELECT_MESSAGE} WHERE m.id = ?1");
        let row = self
            .prepare_cached(&sql)?
            .query_row([id.0], row_with_card_ref)
            .optional()?;
        row.map(|row| with_card(self, row)).transpose()
    }

    fn replace_text(&self, id: MessageId, text: &str, at: TimestampMs) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE messages SET text = ?2, edited_at_ms = ?3 WHERE id = ?1",
            rusqlite::params![id.0, text, at.0],
        )?;
        Ok(())
    }

    fn expire_sealed(&self, now: TimestampMs) -> Result<usize, ApiError> {
        Ok(self.execute_cached(
            "UPDATE messages SET sealed = NULL, text = '', deleted = 1, file_id = NULL
             WHERE expires_at_ms <= ?1 AND deleted = 0",
            [now.0],
        )?)
    }

    fn tombstone(&self, id: MessageId) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE messages SET text = '', deleted = 1, sealed = NULL, file_id = NULL WHERE id = ?1",
            [id.0],
        )?;
        self.execute_cached("DELETE FROM reactions WHERE message_id = ?1", [id.0])?;
        Ok(())
    }

    fn record_mention(
        &self,
        id: MessageId,
        conversation_id: ConversationId,
        sender: UserId,
        username: &str,
    ) -> Result<(), ApiError> {
        self.execute_cached(
            "INSERT INTO mentions (user_id, message_id)
             SELECT u.id, ?1 FROM users u
             JOIN members mb ON mb.user_id = u.id AND mb.conversation_id = ?2 AND mb.active = 1
             WHERE u.username = ?4 AND u.id <> ?3
             ON CONFLICT DO NOTHING",
            rusqlite::params![id.0, conversation_id.0, sender.0, username],
        )?;
        Ok(())
    }

    fn clear_mentions(&self, id: MessageId) -> Result<(), ApiError> {
        self.execute_cached("DELETE FROM mentions WHERE message_id = ?1", [id.0])?;
        Ok(())
    }

    fn set_reaction(
        &self,
        id: MessageId,
        user: UserId,
        emoji: &str,
        present: bool,
    ) -> Result<bool, ApiError> {
        let sql = match present {
            true => {
                "INSERT INTO reactions (message_id, user_id, emoji) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING"
            }
            false => "DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3",
        };
        let changed = self.execute_cached(sql, rusqlite::params![id.0, user.0, emoji])?;
        Ok(changed == 1)
    }
}

pub(crate) fn row_with_card_ref(row: &Row) -> rusqlite::Result<MessageRow> {
    let message = message_from_row(row)?;
    let kind: Option<String> = row.get(9)?;
    let reference: Option<i64> = row.get(10)?;
    Ok((message, kind.zip(reference)))
}

/// Fills in the card a message refers to, in its current state.
pub(crate) fn with_card(
    conn: &Connection,
    (mut message, card): MessageRow,
) -> Result<Message, ApiError> {
    if let Some((kind, reference)) = card {
        message.card = Some(Box::new(crate::store::cards::load(conn, &kind, reference)?));
    }
    Ok(message)
}

pub(crate) fn message_from_row(row: &Row) -> rusqlite::Result<Message> {
    let client_id: String = row.get(6)?;
    let client_id = uuid::Uuid::parse_str(&client_id).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Message {
        id: MessageId(row.get(0)?),
        conversation_id: ConversationId(row.get(1)?),
        sender: user_from_row(row, 2)?,
        client_id: ClientMsgId(client_id),
        text: row.get(7)?,
        sent_at: TimestampMs(row.get(8)?),
        card: None,
        edited_at: row.get::<_, Option<i64>>(11)?.map(TimestampMs),
        deleted: row.get::<_, i64>(12)? != 0,
        reply_to: match row.get::<_, Option<i64>>(13)? {
            Some(id) => Some(quote(
                MessageId(id),
                user_from_row(row, 14)?,
                &row.get::<_, String>(18)?,
                row.get::<_, i64>(19)? != 0,
            )),
            None => None,
        },
        reactions: reactions_from(row.get::<_, Option<String>>(20)?.as_deref()),
        sealed: sealed_from(row.get(21)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(21, rusqlite::types::Type::Text, Box::new(e))
        })?,
        expires_at: row.get::<_, Option<i64>>(22)?.map(TimestampMs),
        file: file_from_row(row)?,
        unreadable: None,
    })
}

/// The file a `SELECT_MESSAGE` row carries, if any.
fn file_from_row(row: &Row) -> rusqlite::Result<Option<Box<FileRef>>> {
    let at = FILE_COLUMN;
    let Some(id) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(file_of(
        Some(id),
        row.get(at + 1)?,
        row.get(at + 2)?,
        row.get(at + 3)?,
        row.get(at + 4)?,
    ))
}
