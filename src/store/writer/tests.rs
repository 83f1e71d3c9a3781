use super::*;

#[tokio::test]
async fn a_request_that_panics_is_rolled_back_alone_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("db")).unwrap();
    let (writer, _thread) = Writer::start(&store, Arc::new(|_: &[Delivery]| {})).unwrap();
    let insert = |name: &'static str| {
        move |ctx: &mut WriteCtx| crate::store::accounts::create_user(ctx, name, "hash")
    };
    let broken = writer.write(|ctx| {
        crate::store::accounts::create_user(ctx, "ghost", "hash")?;
        panic!("an invariant failed");
        #[allow(unreachable_code)]
        Ok(())
    });
    let (first, panicked, after) = tokio::join!(
        writer.write(insert("before")),
        broken,
        writer.write(insert("after"))
    );
    assert!(first.is_ok() && after.is_ok());
    assert_eq!(
        panicked.unwrap_err().code,
        crate::protocol::ErrorCode::Internal
    );
    let ghost = store
        .read_blocking(|conn| conn.credentials("ghost"))
        .unwrap();
    assert!(ghost.is_none(), "the panicking request left nothing behind");
}

#[test]
fn a_one_off_write_holds_the_write_lock_from_its_start() {
    // Regression: `quid admin revoke` beside a running server failed with "internal" when
    // the server wrote between the admin transaction's first read and its first write.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("db")).unwrap();
    let mut admin = store.connect().unwrap();
    let server = store.connect().unwrap();
    server.busy_timeout(std::time::Duration::ZERO).unwrap();
    write_once(&mut admin, |ctx| {
        ctx.db().credentials("nobody")?;
        let busy = server.execute("CREATE TABLE elsewhere (x)", []);
        assert!(
            busy.is_err(),
            "another connection wrote inside the transaction"
        );
        crate::store::accounts::create_user(ctx, "alice", "hash")
    })
    .unwrap();
    server.execute("CREATE TABLE elsewhere (x)", []).unwrap();
}

/// A request reads the clock once: a payment request that expires between the request's
/// reading and the wall clock's is still open to the store's own reads inside the request (as
/// to the ledger's checks, which use the request's time), and expired to a read after it.
#[test]
fn the_stores_reads_inside_a_request_keep_the_requests_time() {
    use crate::ledger::requests::{RequestOrder, request_money};
    use crate::protocol::payments::{IdempotencyKey, RequestStatus};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("db")).unwrap();
    let mut conn = store.connect().unwrap();
    let eur = crate::money::Currency::from_code("EUR").unwrap();
    let asked = write_once(&mut conn, |ctx| {
        let alice = crate::store::accounts::create_user(ctx, "alice", "hash")?;
        crate::store::accounts::create_user(ctx, "bob", "hash")?;
        let order = RequestOrder {
            payer: "bob",
            amount: crate::money::Money::new(500, eur),
            memo: "lunch",
            conversation_id: None,
            expires_in_secs: None,
            key: &IdempotencyKey("k".into()),
        };
        request_money(ctx, &alice, &order)
    })
    .unwrap();
    let id = asked.request.id;
    let tx = conn.transaction().unwrap();
    let (inside, _) = apply(&*tx, |ctx| {
        let expires_at = ctx.now().0 + 1;
        tx.execute(
            "UPDATE payment_requests SET expires_at_ms = ?1 WHERE id = ?2",
            [expires_at, id.0],
        )?;
        while TimestampMs::now().0 <= expires_at {
            std::hint::spin_loop();
        }
        ctx.db().request(id)
    })
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        inside.status,
        RequestStatus::Open,
        "read at the request's time"
    );
    let after = store.read_blocking(move |db| db.request(id)).unwrap();
    assert_eq!(
        after.status,
        RequestStatus::Expired,
        "read at the time of the read"
    );
}
