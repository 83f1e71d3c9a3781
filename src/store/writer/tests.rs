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
