//! The writer: threads that own the write connections. On SQLite there is one, which commits
//! every request waiting at that moment in one transaction (group commit), so durability
//! costs one fsync per batch, not per message; that fsync runs on a sync thread beside it
//! while the next batch runs (`Durability::AfterSync`). On PostgreSQL several run side by side, a
//! request per transaction (PostgreSQL groups concurrent commits itself), and beside them a
//! few lanes for a conversation's own writes (messages, read marks): every write to one
//! conversation goes to one lane, which commits what waits in one transaction, taking the
//! conversations' locks in id order; a busy conversation costs a commit per batch, not per
//! message. A request that loses a deadlock (or finds a row another transaction just
//! inserted) runs again. Each request runs in its own savepoint: a refused request rolls back
//! alone and never spoils the batch.
//!
//! Events a request emits are published only after its transaction is durable, so nobody is
//! ever told about something a crash could undo. Each user's events are committed in seq
//! order; with several writers they may reach the fan-out out of order, and a connection that
//! sees a gap reads the missing events from the store first (`server/connection/outgoing.rs`).

use super::{Backend, Store, StoreError, events};
use crate::metrics::{BATCH_SIZE_BOUNDS, Histogram};
use crate::protocol::{ApiError, ConversationId, Event, Position, Seq, TimestampMs, UserId};
use rusqlite::{Connection, TransactionBehavior};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Most requests committed in one transaction; bounds the latency one batch adds.
pub const MAX_BATCH: usize = 256;

/// Requests waiting for the writer; callers wait (backpressure) when it is full.
const QUEUE_CAPACITY: usize = 1024;

pub use super::events::Delivery;
pub use sync::Flush;
use sync::{Outcome, Syncer, sync_then_tell};

mod sync;

/// Where committed events go (the server's fan-out hub).
pub type Publish = Arc<dyn Fn(&[Delivery]) + Send + Sync>;

/// What a write request sees: the transaction (inside its savepoint), a way to emit events,
/// and the time. The clock is read once per request: every timestamp it writes and every
/// expiry it checks agree, whichever statement comes first.
pub struct WriteCtx<'a> {
    db: &'a dyn super::Backend,
    now: TimestampMs,
    deliveries: &'a mut Vec<Delivery>,
}

impl<'a> WriteCtx<'a> {
    /// Runs `f` as a request on `db`, its events going to `deliveries`: the clock is read
    /// here, once, and held for the store's own reads while `f` runs (`store::clock`).
    fn run<T>(
        db: &'a dyn super::Backend,
        deliveries: &'a mut Vec<Delivery>,
        f: impl FnOnce(&mut WriteCtx<'a>) -> T,
    ) -> T {
        let now = TimestampMs::now();
        let _held = super::clock::hold(now);
        f(&mut WriteCtx {
            db,
            now,
            deliveries,
        })
    }

    /// The request's time: every timestamp it writes and every expiry it checks.
    pub fn now(&self) -> TimestampMs {
        self.now
    }

    /// The transaction, as the seam every backend implements.
    pub fn db(&self) -> &'a dyn super::Backend {
        self.db
    }

    /// Appends `event` to `user_id`'s durable stream; it is published once the batch commits.
    pub fn emit(&mut self, user_id: UserId, event: &Event) -> Result<Seq, ApiError> {
        let body = serialize(event)?;
        let seq = self
            .db
            .append_event(user_id, &events::stored(event, &body)?)?;
        let place = events::Place::User(user_id, seq);
        self.deliveries.push(Delivery::new(place, event, &body));
        Ok(seq)
    }

    /// Appends `event` to `conversation_id`'s log, which every member reads: one row and one
    /// frame however many members there are.
    pub fn emit_to_conversation(
        &mut self,
        conversation_id: ConversationId,
        event: &Event,
    ) -> Result<Position, ApiError> {
        let body = serialize(event)?;
        let pos = self
            .db
            .append_conversation_event(conversation_id, &events::stored(event, &body)?)?;
        let place = events::Place::Conversation(conversation_id, pos);
        self.deliveries.push(Delivery::new(place, event, &body));
        Ok(pos)
    }
}

fn serialize(event: &Event) -> Result<String, ApiError> {
    serde_json::to_string(event).map_err(|e| {
        tracing::error!(error = %e, "cannot serialize event");
        ApiError::internal()
    })
}

type Completion = Box<dyn FnOnce(Result<(), ApiError>) + Send>;
/// Runs a job in the batch's transaction; or, given the error that kept the transaction from
/// beginning, answers its caller with it.
type Run = Box<dyn FnMut(Result<&dyn BatchTx, &ApiError>) -> Ran + Send>;

/// A request waiting for a writer, and the conversation it writes to when it is one of a
/// lane's.
struct Job {
    conversation: Option<ConversationId>,
    run: Run,
}

/// What running a job in a transaction came to.
enum Ran {
    /// Its events, and how to tell its caller once the transaction's fate is known.
    Done(Vec<Delivery>, Completion),
    /// It lost a race the database broke (a deadlock): rolled back, to run again in a new
    /// transaction.
    Conflict,
}

/// Most times a request is run again after losing a deadlock; past that its caller hears
/// `internal`.
const MAX_RETRIES: usize = 10;

/// A batch's transaction as the writer drives it: the store's traits, and one savepoint per
/// request, so that a refused request rolls back alone.
pub trait BatchTx: Backend {
    /// Opens the request's savepoint.
    fn savepoint(&self) -> Result<(), ApiError>;
    /// Keeps what the request wrote.
    fn release(&self) -> Result<(), ApiError>;
    /// Undoes what the request wrote and closes its savepoint.
    fn roll_back(&self) -> Result<(), ApiError>;
    /// Whether a statement failed only because the database broke a deadlock with another
    /// transaction: the request should run again. A backend with one writer has none.
    fn conflicted(&self) -> bool {
        false
    }
    /// The batch's last statements, after every request's, once per batch rather than once
    /// per request: on PostgreSQL, telling other server nodes that these events exist; on
    /// SQLite, indexing the words of the messages the batch stored.
    fn before_commit(&self, deliveries: &[Delivery]) -> Result<(), ApiError>;
}

/// When a committed batch is durable.
pub enum Durability {
    /// Its commit made it durable.
    Committed,
    /// Once this returns: it flushes what every commit before it wrote. It runs on a thread
    /// of its own, so that the writer runs the next batch meanwhile.
    AfterSync(Flush),
}

/// A writer's own connection, on any backend: runs one batch in one transaction.
pub trait BatchConnection: Send + 'static {
    /// Begins a transaction, hands it to `run`, and commits it; an error means nothing of the
    /// batch is durable.
    fn in_transaction(&mut self, run: &mut dyn FnMut(&dyn BatchTx))
    -> Result<Durability, ApiError>;

    /// Most requests in one transaction. Where several writers run at once, one each, so
    /// that a transaction holds only its own request's locks.
    fn max_batch(&self) -> usize {
        MAX_BATCH
    }
}

/// A backend's write connections: those that take any request, and those of the lanes that
/// take one conversation's writes each (none where one writer takes everything).
pub struct Connections {
    pub shared: Vec<Box<dyn BatchConnection>>,
    pub lanes: Vec<Box<dyn BatchConnection>>,
}

/// Handle to the writer threads. Cloning is cheap; the threads end when every handle is gone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    lanes: Arc<[mpsc::Sender<Job>]>,
    stats: Arc<WriterStats>,
}

/// How the writer is doing, for `/metrics`.
pub struct WriterStats {
    /// Time to run one batch and commit it.
    pub batch_latency: Histogram,
    /// Requests in one batch.
    pub batch_size: Histogram,
}

/// The writer's threads, to wait for their last commits at shutdown.
pub struct WriterThreads(Vec<std::thread::JoinHandle<()>>);

impl WriterThreads {
    /// Waits for every thread; an error if one panicked.
    pub fn join(self) -> std::thread::Result<()> {
        self.0
            .into_iter()
            .try_for_each(std::thread::JoinHandle::join)
    }
}

impl Writer {
    /// Starts the writer threads, each on its own connection to `store` (one on SQLite,
    /// several on PostgreSQL). Connecting blocks: call this off the async threads.
    pub fn start(store: &Store, publish: Publish) -> Result<(Writer, WriterThreads), StoreError> {
        Self::start_on(store.connect_writers()?, publish)
    }

    /// Starts a writer thread on each of the shared connections, all taking jobs from one
    /// queue, and one on each lane's connection, with a queue of its own.
    pub fn start_on(
        connections: Connections,
        publish: Publish,
    ) -> Result<(Writer, WriterThreads), StoreError> {
        let stats = Arc::new(WriterStats {
            batch_latency: Histogram::latency(),
            batch_size: Histogram::new(BATCH_SIZE_BOUNDS, 1.0),
        });
        let spawn = |conn, queue: &Arc<Mutex<mpsc::Receiver<Job>>>, name: &str| {
            let (queue, publish, stats) =
                (Arc::clone(queue), Arc::clone(&publish), Arc::clone(&stats));
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || run(conn, &queue, &publish, &stats))
                .map_err(StoreError::WriterThread)
        };
        let (jobs, shared) = queue();
        let mut threads = Vec::new();
        for conn in connections.shared {
            threads.push(spawn(conn, &shared, "quid-store-writer")?);
        }
        let mut lanes = Vec::new();
        for conn in connections.lanes {
            let (lane, queue) = queue();
            threads.push(spawn(conn, &queue, "quid-store-lane")?);
            lanes.push(lane);
        }
        let writer = Writer {
            jobs,
            lanes: lanes.into(),
            stats,
        };
        Ok((writer, WriterThreads(threads)))
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Runs `f` in the next batch and returns its result once the batch is durable. `f` may
    /// run more than once (a deadlock lost on PostgreSQL is rolled back and run again); only
    /// one run's writes ever commit.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx) -> Result<T, ApiError> + Send + 'static,
    {
        self.queue(None, f).await
    }

    /// As [`Writer::write`], for a request that writes to `conversation` and no other (nor
    /// any user's stream, nor a wallet): where the backend has lanes, it waits in the lane of
    /// `conversation`, to be committed with that conversation's other writes.
    pub async fn write_in<T, F>(&self, conversation: ConversationId, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx) -> Result<T, ApiError> + Send + 'static,
    {
        self.queue(Some(conversation), f).await
    }

    async fn queue<T, F>(&self, conversation: Option<ConversationId>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx) -> Result<T, ApiError> + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let mut reply = Some(reply);
        let job = Job {
            // Only a lane's jobs are sorted by conversation; elsewhere they keep their order.
            conversation: conversation.filter(|_| !self.lanes.is_empty()),
            run: Box::new(move |tx| match tx {
                Ok(tx) => run_in_savepoint(tx, &f, &mut reply),
                Err(error) => refuse(error, &mut reply),
            }),
        };
        if self.queue_for(job.conversation).send(job).await.is_err() {
            tracing::error!("store writer is gone");
            return Err(ApiError::internal());
        }
        result.await.unwrap_or_else(|_| Err(ApiError::internal()))
    }

    fn queue_for(&self, conversation: Option<ConversationId>) -> &mpsc::Sender<Job> {
        match conversation {
            Some(id) => &self.lanes[id.0.unsigned_abs() as usize % self.lanes.len()],
            None => &self.jobs,
        }
    }
}

fn queue() -> (mpsc::Sender<Job>, Arc<Mutex<mpsc::Receiver<Job>>>) {
    let (jobs, rx) = mpsc::channel(QUEUE_CAPACITY);
    (jobs, Arc::new(Mutex::new(rx)))
}

/// Answers a job that never ran with `error`.
fn refuse<T>(error: &ApiError, reply: &mut Option<oneshot::Sender<Result<T, ApiError>>>) -> Ran {
    if let Some(reply) = reply.take() {
        let _ = reply.send(Err(error.clone()));
    }
    Ran::Done(Vec::new(), Box::new(drop))
}

fn run_in_savepoint<T, F>(
    tx: &dyn BatchTx,
    f: &F,
    reply: &mut Option<oneshot::Sender<Result<T, ApiError>>>,
) -> Ran
where
    T: Send + 'static,
    F: Fn(&mut WriteCtx) -> Result<T, ApiError>,
{
    let mut deliveries = Vec::new();
    let result = match RequestSavepoint::begin(tx) {
        Ok(savepoint) => {
            // A request whose invariant assertion fails is rolled back alone and answered
            // `internal`; the writer, and every other request in the batch, carries on.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                WriteCtx::run(savepoint.tx, &mut deliveries, |ctx| f(ctx))
            }))
            .unwrap_or_else(|_| {
                tracing::error!("a write request panicked; it is rolled back");
                Err(ApiError::internal())
            });
            // Dropping a savepoint without releasing it rolls it back.
            match outcome {
                Ok(value) => savepoint.release().map(|()| value),
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    };
    if result.is_err() && tx.conflicted() {
        return Ran::Conflict;
    }
    if result.is_err() {
        deliveries.clear();
    }
    let reply = reply.take();
    let completion: Completion = Box::new(move |committed| {
        // The caller may have gone away (connection closed); the write stands regardless.
        if let Some(reply) = reply {
            let _ = reply.send(committed.and(result));
        }
    });
    Ran::Done(deliveries, completion)
}

/// One request's savepoint inside the batch's transaction; rolled back when dropped
/// unreleased.
struct RequestSavepoint<'t> {
    tx: &'t dyn BatchTx,
    open: bool,
}

impl<'t> RequestSavepoint<'t> {
    fn begin(tx: &'t dyn BatchTx) -> Result<Self, ApiError> {
        tx.savepoint()?;
        Ok(RequestSavepoint { tx, open: true })
    }

    fn release(mut self) -> Result<(), ApiError> {
        self.tx.release()?;
        self.open = false;
        Ok(())
    }
}

impl Drop for RequestSavepoint<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(error) = self.tx.roll_back()
        {
            tracing::error!(%error, "cannot roll a request back");
        }
    }
}

/// One writer thread: takes what is waiting (up to its connection's batch size), commits it
/// as one transaction, and runs again, alone, whatever lost a deadlock. Callers hear, and
/// events are published, once a batch is durable: at once where the commit made it so, else
/// from the sync thread, which this thread starts when first needed and waits for at the end.
fn run(
    mut conn: Box<dyn BatchConnection>,
    queue: &Mutex<mpsc::Receiver<Job>>,
    publish: &Publish,
    stats: &WriterStats,
) {
    let max_batch = conn.max_batch();
    let mut syncer = None;
    while let Some(mut batch) = next_batch(queue, max_batch) {
        for attempt in 0..=MAX_RETRIES {
            let started = std::time::Instant::now();
            stats.batch_size.observe(batch.len() as u64);
            let (outcome, durability) = commit_batch(conn.as_mut(), &mut batch);
            stats.batch_latency.observe_duration(started.elapsed());
            match durability {
                Durability::Committed => outcome.tell(publish),
                Durability::AfterSync(sync) => {
                    if syncer.is_none() {
                        syncer = Syncer::start(Arc::clone(&sync), Arc::clone(publish));
                    }
                    match &syncer {
                        Some(syncer) => syncer.hand(outcome, publish),
                        None => sync_then_tell(sync.as_ref(), vec![outcome], publish),
                    }
                }
            }
            if batch.is_empty() {
                break;
            }
            tracing::debug!(
                attempt,
                requests = batch.len(),
                "deadlock lost; running again"
            );
        }
        // Jobs still conflicting are dropped: their callers hear `internal`.
    }
    if let Some(syncer) = syncer {
        syncer.finish();
    }
}

/// The next job and whatever else is waiting, up to `max`; `None` once every handle is gone.
fn next_batch(queue: &Mutex<mpsc::Receiver<Job>>, max: usize) -> Option<Vec<Job>> {
    // One thread waits on the queue at a time; the others wait for the lock.
    let mut jobs = queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut batch = vec![jobs.blocking_recv()?];
    while batch.len() < max {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    // A lane's batch takes its conversations' locks in one order (id, then arrival), as any
    // other lane's does: two lanes' transactions never wait on each other in a cycle. Shared
    // jobs (no conversation) keep their order.
    batch.sort_by_key(|job| job.conversation);
    Some(batch)
}

/// Runs `batch` in one transaction; leaves in `batch` the jobs that lost a deadlock, to run
/// again.
fn commit_batch(conn: &mut dyn BatchConnection, batch: &mut Vec<Job>) -> (Outcome, Durability) {
    let mut deliveries = Vec::new();
    let mut completions = Vec::new();
    let mut again = Vec::new();
    let mut jobs = std::mem::take(batch).into_iter();
    let committed = conn.in_transaction(&mut |tx| {
        for mut job in jobs.by_ref() {
            match (job.run)(Ok(tx)) {
                Ran::Done(emitted, completion) => {
                    deliveries.extend(emitted);
                    completions.push(completion);
                }
                Ran::Conflict => again.push(job),
            }
        }
        // A failure here leaves PostgreSQL's transaction unable to commit: the batch fails as
        // a whole, and its callers hear so.
        if let Err(error) = tx.before_commit(&deliveries) {
            tracing::error!(%error, "cannot finish a batch");
        }
    });
    let (committed, durability) = match committed {
        Ok(durability) => (Ok(()), durability),
        Err(error) => {
            tracing::error!(%error, "a write batch did not commit");
            // Jobs never run (the transaction did not begin) or to run again hear why:
            // `unavailable` while the database is away, so that they are tried again.
            for mut job in jobs.chain(again.drain(..)) {
                (job.run)(Err(&error));
            }
            (Err(error), Durability::Committed)
        }
    };
    *batch = again;
    let outcome = Outcome {
        committed,
        deliveries,
        completions,
    };
    (outcome, durability)
}

/// Runs `f` on `db`, a transaction its caller opened (on any backend) and commits: with the
/// request's one clock reading, and returning the events it emitted, to publish once the
/// caller's commit has succeeded.
pub fn apply<T>(
    db: &dyn super::Backend,
    f: impl FnOnce(&mut WriteCtx) -> Result<T, ApiError>,
) -> Result<(T, Vec<Delivery>), ApiError> {
    let mut deliveries = Vec::new();
    let value = WriteCtx::run(db, &mut deliveries, f)?;
    Ok((value, deliveries))
}

/// Runs `f` in one transaction on `conn`, outside the writer thread: for admin commands that
/// work on the database file directly, whether or not a server runs on it (SQLite's locking
/// orders the two). Events `f` emits are stored, and reach clients when they next resume.
pub fn write_once<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut WriteCtx) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    // IMMEDIATE for the same reason as the writer's batches: a running server may write
    // between this transaction's first read and its first write.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut deliveries = Vec::new();
    let value = WriteCtx::run(&*tx, &mut deliveries, f)?;
    BatchTx::before_commit(&*tx, &deliveries)?;
    tx.commit()?;
    Ok(value)
}

#[cfg(test)]
mod tests;
