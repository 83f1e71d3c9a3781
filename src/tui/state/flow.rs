//! What flows through the state machine: a [`Msg`] in (something happened), [`Effect`]s out
//! (something for the loop to do), and [`Done`] back in when an effect has run.

use crate::money::Money;
use crate::protocol::funding::Funding;
use crate::protocol::payments::{
    IdempotencyKey, InvoiceId, PaymentRequest, PaymentRequestId, StatementLine,
};
use crate::protocol::{
    ClientMsgId, Conversation, ConversationId, ErrorCode, Message, MessageId, TimestampMs, results,
};
use crate::session::SessionEvent;
use crossterm::event::{KeyEvent, MouseEvent};
use std::time::Instant;

/// What happened: the only way the state changes.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize(u16, u16),
    Session(SessionEvent),
    Done(Done),
    /// Time passes (countdowns, typing indicators expire); `wall` is the clock's time.
    Tick {
        now: Instant,
        wall: TimestampMs,
    },
}

/// The outcome of an [`Effect`] the loop carried out.
#[derive(Debug)]
pub enum Done {
    Conversations(Vec<Conversation>),
    History {
        conversation_id: ConversationId,
        before: Option<MessageId>,
        page: results::History,
    },
    /// A conversation opened or created by a command: select it.
    Opened(Conversation),
    Left(ConversationId),
    /// An effect failed; the text says what, for the notice line.
    Failed(String),
    Balance(Vec<Money>),
    Paid(results::Paid),
    Requested(Vec<PaymentRequest>),
    /// A request was declined or cancelled.
    RequestClosed(PaymentRequest),
    /// A money effect was refused or failed: its code decides what the modal does.
    MoneyFailed {
        code: ErrorCode,
        message: String,
    },
    Statement(Vec<StatementLine>),
    /// Where the statement was written, or why it could not be.
    Exported(Result<String, String>),
    Searched {
        query: String,
        found: results::Search,
    },
    /// A secret message was sealed and sent (`client_id`: its queued entry).
    SecretSent {
        client_id: ClientMsgId,
        message: Message,
    },
    /// Offline: the secret message waits, encrypted in the secret store, to be sealed and
    /// sent once back (its entry stays queued).
    SecretHeld {
        conversation_id: ConversationId,
    },
    /// A secret message could not be sent: its text goes back to the composer.
    SecretNotSent {
        client_id: ClientMsgId,
        conversation_id: ConversationId,
        text: String,
        reason: String,
    },
    /// The user's new devices were trusted.
    KeysAccepted {
        username: String,
        devices: usize,
    },
    /// A top-up was made at the partner: its checkout page is where to pay.
    TopupStarted(Funding),
    /// A withdrawal was accepted (the money has left the wallet).
    Withdrawn(Funding),
    /// Your top-ups and withdrawals, newest first.
    Fundings(Vec<Funding>),
    /// Logged in again: the session goes on with the new token.
    LoggedIn,
    /// Logging in again failed; why.
    LogInFailed(String),
    /// A file was sent (what to say), or why not.
    FileSent(Result<String, String>),
    /// A file was saved, where (and whether it was opened), or why not.
    FileSaved(Result<String, String>),
}

/// Something for the loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Logs in again with this password, after the server refused the session's token.
    LogIn {
        username: String,
        password: super::login::Password,
    },
    LoadConversations,
    LoadHistory {
        conversation_id: ConversationId,
        before: Option<MessageId>,
    },
    Send {
        conversation_id: ConversationId,
        client_id: ClientMsgId,
        text: String,
        reply_to: Option<MessageId>,
    },
    EditMessage {
        message_id: MessageId,
        text: String,
    },
    DeleteMessage(MessageId),
    React {
        message_id: MessageId,
        emoji: String,
        remove: bool,
    },
    /// Puts text on the clipboard (OSC 52): only ever on the user's own action.
    Copy(String),
    MarkRead {
        conversation_id: ConversationId,
        up_to: MessageId,
    },
    Typing(ConversationId),
    /// Uploads the file at `path` (`~` is the home folder) and sends it here.
    SendFile {
        conversation_id: ConversationId,
        path: String,
        caption: String,
    },
    /// Saves a file to the download folder, and opens it with the system's opener if `open`.
    SaveFile {
        file: crate::protocol::files::FileRef,
        open: bool,
    },
    OpenDirect(String),
    OpenSecret(String),
    /// Seals `text` for `other` and sends it in the secret conversation.
    SendSecret {
        conversation_id: ConversationId,
        client_id: ClientMsgId,
        other: String,
        text: String,
    },
    AcceptKeys(String),
    /// Sets a secret conversation's disappearing-message timer (0: off).
    SetTimer {
        conversation_id: ConversationId,
        other: String,
        seconds: u32,
    },
    /// Starts verifying `other`, the other person of a secret conversation.
    Verify {
        conversation_id: ConversationId,
        other: String,
    },
    /// Whether the codes of verification `txn` match.
    Compared {
        txn: String,
        matches: bool,
    },
    CreateGroup {
        name: String,
        members: Vec<String>,
    },
    Leave(ConversationId),
    Mute {
        conversation_id: ConversationId,
        muted: bool,
    },
    LoadBalance,
    LoadStatement,
    Search {
        query: String,
    },
    /// Writes these lines as a CSV file in the directory quid was started in.
    ExportStatement(Vec<StatementLine>),
    Pay {
        to: String,
        amount: Money,
        memo: String,
        conversation_id: ConversationId,
        key: IdempotencyKey,
        pin: Option<String>,
        /// In a secret conversation with a memo: the person whose devices are checked before
        /// the money moves (the memo follows sealed, and a changed key must stop the payment,
        /// not just its memo).
        sealed_for: Option<String>,
    },
    RequestMoney {
        from: String,
        amount: Money,
        memo: String,
        conversation_id: ConversationId,
        key: IdempotencyKey,
        /// As for `Pay`.
        sealed_for: Option<String>,
    },
    PayRequest {
        request_id: PaymentRequestId,
        key: IdempotencyKey,
        pin: Option<String>,
    },
    PayInvoice {
        invoice_id: InvoiceId,
        key: IdempotencyKey,
        pin: Option<String>,
    },
    DeclineRequest(PaymentRequestId),
    CancelRequest(PaymentRequestId),
    Split {
        conversation_id: ConversationId,
        amount: Money,
        memo: String,
        key: IdempotencyKey,
    },
    /// Adds money through the server's payment partner.
    Topup {
        amount: Money,
        key: IdempotencyKey,
    },
    /// Sends money to a bank account through the server's payment partner.
    Withdraw {
        amount: Money,
        bank_account: String,
        key: IdempotencyKey,
        pin: Option<String>,
    },
    LoadFundings,
    /// Opens a checkout page in the user's browser (only offered where one can appear).
    OpenBrowser(String),
    /// A message arrived out of view: ring / notify as the profile says.
    Notify {
        title: String,
        body: String,
    },
    Quit,
}
