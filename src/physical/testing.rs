//! The conformance suite every [`Backend`] must pass.

use std::sync::Arc;

use super::{Backend, TxnOp};

pub(crate) type Factory<'a> = &'a dyn Fn() -> Box<dyn Backend>;

/// Runs every conformance check, each on a fresh backend.
pub(crate) fn run_all(make: Factory<'_>) {
    get_put_delete(make().as_ref());
    list_one_level(make().as_ref());
    empty_and_huge_values(make().as_ref());
    unusual_keys(make().as_ref());
    transactions(make().as_ref());
    scan_recursive(make().as_ref());
    concurrent_writers(Arc::from(make()));
}

fn get_put_delete(b: &dyn Backend) {
    assert_eq!(b.get("missing").unwrap(), None);
    b.put("k", b"v1").unwrap();
    assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"v1"[..]));
    b.put("k", b"v2").unwrap();
    assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"v2"[..]));
    b.delete("k").unwrap();
    assert_eq!(b.get("k").unwrap(), None);
    b.delete("k").unwrap();
}

fn list_one_level(b: &dyn Backend) {
    for k in ["a/x", "a/y/1", "a/y/2", "a/z/deep/er", "ab", "b"] {
        b.put(k, b"1").unwrap();
    }
    assert_eq!(b.list("a/").unwrap(), vec!["x", "y/", "z/"]);
    assert_eq!(b.list("").unwrap(), vec!["a/", "ab", "b"]);
    assert_eq!(b.list("a/y/").unwrap(), vec!["1", "2"]);
    assert!(b.list("nothing/").unwrap().is_empty());
    // Folder skipping must not jump over siblings that sort right after '/'.
    for k in ["n/a", "n/a.b", "n/a/x", "n/a/y/z", "n/a0", "n/b"] {
        b.put(k, b"1").unwrap();
    }
    assert_eq!(b.list("n/").unwrap(), vec!["a", "a.b", "a/", "a0", "b"]);
}

fn empty_and_huge_values(b: &dyn Backend) {
    b.put("empty", b"").unwrap();
    assert_eq!(b.get("empty").unwrap().as_deref(), Some(&b""[..]));
    let huge: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    b.put("huge", &huge).unwrap();
    assert_eq!(b.get("huge").unwrap().as_deref(), Some(huge.as_slice()));
}

fn unusual_keys(b: &dyn Backend) {
    let keys = ["sp ace", "ünïcødé/ключ", "-_=.~", "a\u{1}b"];
    for (i, k) in keys.iter().enumerate() {
        b.put(k, &[i as u8, 0, 255]).unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(b.get(k).unwrap(), Some(vec![i as u8, 0, 255]));
    }
    assert_eq!(b.list("ünïcødé/").unwrap(), vec!["ключ"]);
}

fn transactions(b: &dyn Backend) {
    b.put("t/old", b"o").unwrap();
    b.transaction(vec![
        TxnOp::Put("t/a".into(), b"1".to_vec()),
        TxnOp::Put("t/b".into(), b"2".to_vec()),
        TxnOp::Delete("t/old".into()),
    ])
    .unwrap();
    assert_eq!(b.list("t/").unwrap(), vec!["a", "b"]);
    assert_eq!(b.get("t/old").unwrap(), None);
    b.transaction(Vec::new()).unwrap();
}

fn scan_recursive(b: &dyn Backend) {
    for k in ["s/1", "s/d/2", "s/d/e/3", "t/4"] {
        b.put(k, b"x").unwrap();
    }
    assert_eq!(b.scan("s/").unwrap(), vec!["s/1", "s/d/2", "s/d/e/3"]);
}

fn concurrent_writers(b: Arc<dyn Backend>) {
    let mut handles = Vec::new();
    for t in 0..8 {
        let b = b.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..50 {
                b.put(&format!("c/{t}/{i}"), format!("{t}-{i}").as_bytes())
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    for t in 0..8 {
        assert_eq!(b.list(&format!("c/{t}/")).unwrap().len(), 50);
        assert_eq!(
            b.get(&format!("c/{t}/49")).unwrap(),
            Some(format!("{t}-49").into_bytes())
        );
    }
}
