//! `Conversations` and `Messages` on PostgreSQL: the same contracts as SQLite's.

use super::PgTx;
use super::users::user;
use crate::protocol::{
    ApiError, ClientMsgId, ConversationId, ConversationKind, Message, MessageId, TimestampMs, User,
    UserId,
};
use crate::store::accounts::USER_COLUMNS;
use crate::store::conversations::{
    ConversationHead, Conversations, Membership, kind_of, not_a_member,
};
use crate::store::files::file_of;
use crate::store::messages::{
    FILE_COLUMN, Messages, NewMessage, SELECT_MESSAGE, quote, reactions_from, sealed_from,
    sealed_json,
};

impl Conversations for PgTx<'_> {
    fn unread_mentions(
        &self,
        conversation_id: ConversationId,
        after: MessageId,
        viewer: UserId,
    ) -> Result<u32, ApiError> {
        let count: i64 = self
            .tx()
            .query_one(
                "SELECT COUNT(*) FROM mentions mn JOIN messages m ON m.id = mn.message_id
                 WHERE mn.user_id = $1 AND m.conversation_id = $2 AND m.id > $3 AND m.deleted = 0",
                &[&viewer.0, &conversation_id.0, &after.0],
            )?
            .get(0);
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    fn set_muted(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
        muted: bool,
    ) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE members SET muted = $3 WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation_id.0, &user_id.0, &i32::from(muted)],
        )?;
        Ok(())
    }

    fn conversation_head(
        &self,
        conversation_id: ConversationId,
        viewer: UserId,
    ) -> Result<ConversationHead, ApiError> {
        let row = self.tx().query_one(
            "SELECT c.kind, c.name, c.created_at_ms, m.last_read_id,
                 (SELECT COALESCE(MAX(o.last_read_id), 0) FROM members o
                  WHERE o.conversation_id = c.id AND o.user_id <> $2),
                 m.muted, c.secret
             FROM conversations c JOIN members m ON m.conversation_id = c.id AND m.user_id = $2
             WHERE c.id = $1",
            &[&conversation_id.0, &viewer.0],
        )?;
        Ok(ConversationHead {
            kind: kind_of(row.get(0)),
            name: row.get(1),
            created_at: TimestampMs(row.get(2)),
            last_read: MessageId(row.get(3)),
            others_read: MessageId(row.get(4)),
            muted: row.get::<_, i32>(5) != 0,
            secret: row.get::<_, i32>(6) != 0,
        })
    }

    fn last_message(
        &self,
        conversation_id: ConversationId,
    ) -> Result<Option<(MessageId, TimestampMs)>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id, sent_at_ms FROM messages WHERE conversation_id = $1
             ORDER BY id DESC LIMIT 1",
            &[&conversation_id.0],
        )?;
        Ok(row.map(|row| (MessageId(row.get(0)), TimestampMs(row.get(1)))))
    }

    fn unread_count(
        &self,
        conversation_id: ConversationId,
        after: MessageId,
        viewer: UserId,
    ) -> Result<u32, ApiError> {
        let unread: i64 = self
            .tx()
            .query_one(
                "SELECT COUNT(*) FROM messages
                 WHERE conversation_id = $1 AND id > $2 AND sender_id <> $3",
                &[&conversation_id.0, &after.0, &viewer.0],
            )?
            .get(0);
        Ok(u32::try_from(unread).unwrap_or(u32::MAX))
    }

    fn conversation_ids_of(&self, user_id: UserId) -> Result<Vec<ConversationId>, ApiError> {
        let rows = self.tx().query(
            "SELECT conversation_id FROM members WHERE user_id = $1 AND active = 1",
            &[&user_id.0],
        )?;
        Ok(rows.iter().map(|row| ConversationId(row.get(0))).collect())
    }

    fn direct_conversation(&self, key: &str) -> Result<Option<ConversationId>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id FROM conversations WHERE direct_key = $1",
            &[&key],
        )?;
        Ok(row.map(|row| ConversationId(row.get(0))))
    }

    fn insert_conversation(
        &self,
        kind: ConversationKind,
        key_or_name: &str,
        at: TimestampMs,
    ) -> Result<ConversationId, ApiError> {
        let sql = match kind {
            ConversationKind::Direct => {
                "INSERT INTO conversations (kind, direct_key, created_at_ms) VALUES ('direct', $1, $2) RETURNING id"
            }
            ConversationKind::Group => {
                "INSERT INTO conversations (kind, name, created_at_ms) VALUES ('group', $1, $2) RETURNING id"
            }
        };
        let row = self.tx().query_one(sql, &[&key_or_name, &at.0])?;
        Ok(ConversationId(row.get(0)))
    }

    fn mark_secret(&self, conversation_id: ConversationId) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE conversations SET secret = 1 WHERE id = $1",
            &[&conversation_id.0],
        )?;
        Ok(())
    }

    fn deactivate_member(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE members SET active = 0,
                 left_pos = (SELECT last_pos FROM conversations WHERE id = $1)
             WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation_id.0, &user_id.0],
        )?;
        Ok(())
    }

    fn group_named(&self, user_id: UserId, name: &str) -> Result<Option<ConversationId>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT c.id FROM conversations c JOIN members m ON m.conversation_id = c.id
             WHERE m.user_id = $1 AND m.active = 1 AND c.kind = 'group' AND c.name = $2",
            &[&user_id.0, &name],
        )?;
        Ok(row.map(|row| ConversationId(row.get(0))))
    }

    fn insert_member(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<(), ApiError> {
        // A returning member reads from where the conversation is now, not from where they left;
        // its log from the newest position on.
        self.tx().execute(
            "INSERT INTO members (conversation_id, user_id, last_read_id, active, joined_pos)
             VALUES ($1, $2, (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $1), 1,
                 (SELECT last_pos FROM conversations WHERE id = $1))
             ON CONFLICT (conversation_id, user_id) DO UPDATE SET active = 1,
                 last_read_id = excluded.last_read_id, joined_pos = excluded.joined_pos,
                 left_pos = NULL",
            &[&conversation_id.0, &user_id.0],
        )?;
        Ok(())
    }

    fn membership(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<Membership, ApiError> {
        let row = self.tx().query_opt(
            "SELECT c.kind, c.secret FROM conversations c JOIN members m ON m.conversation_id = c.id
             WHERE c.id = $1 AND m.user_id = $2 AND m.active = 1",
            &[&conversation_id.0, &user_id.0],
        )?;
        row.map(|row| Membership {
            kind: kind_of(row.get(0)),
            secret: row.get::<_, i32>(1) != 0,
        })
        .ok_or_else(|| not_a_member(conversation_id))
    }

    fn members(&self, conversation_id: ConversationId) -> Result<Vec<User>, ApiError> {
        let rows = self.tx().query(
            &format!(
                "SELECT {USER_COLUMNS} FROM members m JOIN users u ON u.id = m.user_id
                 WHERE m.conversation_id = $1 AND m.active = 1 ORDER BY u.username"
            ),
            &[&conversation_id.0],
        )?;
        Ok(rows.iter().map(|row| user(row, 0)).collect())
    }
}

impl PgTx<'_> {
    /// The message a `SELECT_MESSAGE` row holds, with its card read in its current state.
    pub(super) fn message_from(&self, row: &postgres::Row) -> Result<Message, ApiError> {
        let client_id = uuid::Uuid::parse_str(row.get(6)).map_err(|e| {
            tracing::error!(error = %e, "unreadable client id in the store");
            ApiError::internal()
        })?;
        let card: Option<(String, i64)> = row.get::<_, Option<String>>(9).zip(row.get(10));
        Ok(Message {
            id: MessageId(row.get(0)),
            conversation_id: ConversationId(row.get(1)),
            sender: user(row, 2),
            client_id: ClientMsgId(client_id),
            text: row.get(7),
            sent_at: TimestampMs(row.get(8)),
            card: card
                .map(|(kind, reference)| crate::store::cards::load(self, &kind, reference))
                .transpose()?
                .map(Box::new),
            edited_at: row.get::<_, Option<i64>>(11).map(TimestampMs),
            deleted: row.get::<_, i32>(12) != 0,
            reply_to: row.get::<_, Option<i64>>(13).map(|id| {
                quote(
                    MessageId(id),
                    user(row, 14),
                    row.get(18),
                    row.get::<_, i32>(19) != 0,
                )
            }),
            reactions: reactions_from(row.get(20)),
            sealed: sealed_from(row.get(21)).map_err(|e| {
                tracing::error!(error = %e, "unreadable sealed message in the store");
                ApiError::internal()
            })?,
            expires_at: row.get::<_, Option<i64>>(22).map(TimestampMs),
            file: file_of(
                row.get(FILE_COLUMN),
                row.get::<_, Option<String>>(FILE_COLUMN + 1)
                    .unwrap_or_default(),
                row.get::<_, Option<i64>>(FILE_COLUMN + 2)
                    .unwrap_or_default(),
                row.get::<_, Option<String>>(FILE_COLUMN + 3)
                    .unwrap_or_default(),
                row.get::<_, Option<String>>(FILE_COLUMN + 4)
                    .unwrap_or_default(),
            ),
            unreadable: None,
        })
    }
}

impl Messages for PgTx<'_> {
    fn messages_before(
        &self,
        conversation_id: ConversationId,
        before: MessageId,
        limit: u32,
    ) -> Result<Vec<Message>, ApiError> {
        let sql = format!(
            "{SELECT_MESSAGE} WHERE m.conversation_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3"
        );
        let rows = self
            .tx()
            .query(&sql, &[&conversation_id.0, &before.0, &i64::from(limit)])?;
        rows.iter().map(|row| self.message_from(row)).collect()
    }

    fn insert_message(&self, message: &NewMessage, at: TimestampMs) -> Result<MessageId, ApiError> {
        let (card_kind, card_ref) = message.card.unzip();
        // The conversation is held (an advisory lock, until the transaction ends) before the
        // message's id is drawn, in the same statement: its messages are numbered only under
        // this lock, so a conversation's message ids follow the order its transactions commit
        // in (as with one writer: a reader who has read up to a message has seen every one
        // before it), and transactions queue on one lock rather than on a large group's member
        // rows one by one, which cost far more. MATERIALIZED: the lock is taken first.
        let row = self.tx().query_one(
            "WITH held AS MATERIALIZED (SELECT pg_advisory_xact_lock($12))
             INSERT INTO messages (conversation_id, sender_id, client_id, text, sent_at_ms, card_kind, card_ref, words, reply_to_id, sealed, expires_at_ms, file_id)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8::text::tsvector, $9, $10, $11, $13 FROM held RETURNING id",
            &[
                &message.conversation_id.0,
                &message.sender.0,
                &message.client_id.0.to_string(),
                &message.text,
                &at.0,
                &card_kind,
                &card_ref,
                &super::search::words_vector(message.text),
                &message.reply_to.map(|r| r.0),
                &sealed_json(message.sealed)?,
                &message.expires_at.map(|at| at.0),
                &(super::CONVERSATION_LOCKS | message.conversation_id.0),
                &message.file.map(|id| &id.0),
            ],
        )?;
        Ok(MessageId(row.get(0)))
    }

    fn message_is_in(
        &self,
        id: MessageId,
        conversation_id: ConversationId,
    ) -> Result<bool, ApiError> {
        let row = self.tx().query_one(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2)",
            &[&id.0, &conversation_id.0],
        )?;
        Ok(row.get(0))
    }

    fn advance_read_marker(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
        up_to: MessageId,
    ) -> Result<bool, ApiError> {
        let moved = self.tx().execute(
            "UPDATE members SET last_read_id = $3
             WHERE conversation_id = $1 AND user_id = $2 AND last_read_id < $3",
            &[&conversation_id.0, &user_id.0, &up_to.0],
        )?;
        Ok(moved == 1)
    }

    fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: ClientMsgId,
    ) -> Result<Option<Message>, ApiError> {
        let sql = format!("{SELECT_MESSAGE} WHERE m.sender_id = $1 AND m.client_id = $2");
        let row = self
            .tx()
            .query_opt(&sql, &[&sender.0, &client_id.0.to_string()])?;
        row.map(|row| self.message_from(&row)).transpose()
    }

    fn find_message(&self, id: MessageId) -> Result<Option<Message>, ApiError> {
        let sql = format!("{SELECT_MESSAGE} WHERE m.id = $1");
        let row = self.tx().query_opt(&sql, &[&id.0])?;
        row.map(|row| self.message_from(&row)).transpose()
    }

    fn replace_text(&self, id: MessageId, text: &str, at: TimestampMs) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE messages SET text = $2, edited_at_ms = $3, words = $4::text::tsvector
             WHERE id = $1",
            &[&id.0, &text, &at.0, &super::search::words_vector(text)],
        )?;
        Ok(())
    }

    fn expire_sealed(&self, now: TimestampMs) -> Result<usize, ApiError> {
        let expired = self.tx().execute(
            "UPDATE messages SET sealed = NULL, text = '', deleted = 1, file_id = NULL
             WHERE expires_at_ms <= $1 AND deleted = 0",
            &[&now.0],
        )?;
        Ok(usize::try_from(expired).unwrap_or(usize::MAX))
    }

    fn tombstone(&self, id: MessageId) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE messages SET text = '', deleted = 1, words = '', sealed = NULL, file_id = NULL
             WHERE id = $1",
            &[&id.0],
        )?;
        self.tx()
            .execute("DELETE FROM reactions WHERE message_id = $1", &[&id.0])?;
        Ok(())
    }

    fn record_mention(
        &self,
        id: MessageId,
        conversation_id: ConversationId,
        sender: UserId,
        username: &str,
    ) -> Result<(), ApiError> {
        self.tx().execute(
            "INSERT INTO mentions (user_id, message_id)
             SELECT u.id, $1 FROM users u
             JOIN members mb ON mb.user_id = u.id AND mb.conversation_id = $2 AND mb.active = 1
             WHERE u.username = $4 AND u.id <> $3
             ON CONFLICT DO NOTHING",
            &[&id.0, &conversation_id.0, &sender.0, &username],
        )?;
        Ok(())
    }

    fn clear_mentions(&self, id: MessageId) -> Result<(), ApiError> {
        self.tx()
            .execute("DELETE FROM mentions WHERE message_id = $1", &[&id.0])?;
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
                "INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING"
            }
            false => "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
        };
        Ok(self.tx().execute(sql, &[&id.0, &user.0, &emoji])? == 1)
    }
}
