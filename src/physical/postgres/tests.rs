//! The PostgreSQL backend against a real server: the conformance suite,
//! reopening, fencing of a node that lost the HA lock, secrets kept out of
//! Debug and errors, table-name validation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::super::pg_testing::TestPostgres;
use super::*;

#[test]
fn conformance() {
    let Some(pg) = TestPostgres::start("postgres::conformance") else {
        return;
    };
    let n = AtomicUsize::new(0);
    let run = uuid::Uuid::new_v4().simple().to_string();
    super::super::testing::run_all(&|| {
        let table = format!("conf_{}_{}", &run[..8], n.fetch_add(1, Ordering::SeqCst));
        Box::new(pg.open(&table, false).expect("open"))
    });
}

#[test]
fn data_survives_reopening_and_export_is_ordered() {
    let Some(pg) = TestPostgres::start("postgres::reopen") else {
        return;
    };
    let table = format!("reopen_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    {
        let b = pg.open(&table, false).expect("open");
        b.put("b", b"2").expect("put");
        b.put("a", b"1").expect("put");
        assert_eq!(b.kind(), "postgresql");
    }
    let b = pg.open(&table, false).expect("reopen");
    assert_eq!(
        b.export().expect("export"),
        vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
    );
    // A NUL in a key is an error, not a panic.
    assert!(b.put("nul\0key", b"x").is_err());
    assert!(b.get("nul\0key").is_err());
}

#[test]
fn a_node_that_lost_the_lock_cannot_write() {
    let Some(pg) = TestPostgres::start("postgres::fencing") else {
        return;
    };
    let table = format!("fence_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let a = pg.open(&table, true).expect("open a");
    let b = pg.open(&table, true).expect("open b");
    let (la, lb) = (a.ha_lock().expect("ha"), b.ha_lock().expect("ha"));
    // Without the lock nothing is written.
    assert!(matches!(a.put("k", b"x"), Err(PhysicalError::NotActive)));
    let e1 = la
        .try_acquire("node-a", "http://a")
        .expect("lock")
        .expect("taken");
    assert_eq!(lb.try_acquire("node-b", "http://b").expect("lock"), None);
    a.put("k", b"a1").expect("the holder writes");
    assert!(matches!(b.put("k", b"b1"), Err(PhysicalError::NotActive)));
    let holder = lb.holder().expect("read").expect("held");
    assert_eq!(
        (holder.holder.as_str(), holder.api_addr.as_str()),
        ("node-a", "http://a")
    );
    assert!(la.renew().expect("renew"));
    // a stops renewing (paused, partitioned): once the lock expired, b
    // takes it over with a higher epoch...
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let e2 = loop {
        if let Some(e) = lb.try_acquire("node-b", "http://b").expect("lock") {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "lock never expired");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(e2 > e1);
    b.put("k", b"b2").expect("the new holder writes");
    // ...and a, resumed and still believing it holds the lock, cannot
    // commit: its epoch is checked inside the write's transaction.
    assert!(matches!(a.put("k", b"a2"), Err(PhysicalError::NotActive)));
    assert!(matches!(
        a.transaction(vec![TxnOp::Put("k".into(), b"a3".to_vec())]),
        Err(PhysicalError::NotActive)
    ));
    assert_eq!(b.get("k").expect("get"), Some(b"b2".to_vec()));
    // Its renewal fails and it stops writing for good.
    assert!(!la.renew().expect("renew"));
    // A release hands over at once.
    lb.release().expect("release");
    assert!(matches!(b.put("k", b"b3"), Err(PhysicalError::NotActive)));
    assert!(la
        .try_acquire("node-a", "http://a")
        .expect("lock")
        .is_some());
}

#[test]
fn the_connection_url_is_never_shown() {
    let opts = PostgresOptions {
        connection_url: "postgresql://vault:hunter2@127.0.0.1:1/db".into(),
        table: DEFAULT_TABLE.into(),
        ha_enabled: false,
        ha_table: DEFAULT_HA_TABLE.into(),
        max_connections: 2,
        max_idle_connections: 1,
        tls_ca_file: None,
        lock_ttl: Duration::from_secs(5),
    };
    assert!(!format!("{opts:?}").contains("hunter2"));
    // Nothing listens on port 1: the error names no password either.
    let err = PostgresBackend::open(&opts).err().expect("no server");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let bad = PostgresOptions {
        connection_url: "postgresql://vault:hunter2@[::1".into(),
        ..opts.clone()
    };
    let err = PostgresBackend::open(&bad).err().expect("bad url");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn table_names_are_plain_identifiers() {
    assert_eq!(identifier("vault_kv").unwrap(), "\"vault_kv\"");
    assert_eq!(identifier("s.t").unwrap(), "\"s\".\"t\"");
    for bad in ["", "a;drop", "1a", "a.b.c", "a\"b", "a b", "a."] {
        assert!(identifier(bad).is_err(), "{bad}");
    }
}
