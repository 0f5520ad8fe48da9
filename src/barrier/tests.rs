use std::sync::Arc;

use super::*;
use crate::physical::{Backend, InmemBackend};
use crate::seal::{new_unseal_key, SealConfig};

fn setup() -> (Arc<InmemBackend>, Arc<Barrier>, SecretBytes) {
    let phys = Arc::new(InmemBackend::new());
    let barrier = Barrier::new(phys.clone());
    let key = new_unseal_key();
    barrier
        .initialize(&key, &SealConfig::new(1, 1).unwrap())
        .unwrap();
    barrier.mark_initialized().unwrap();
    (phys, barrier, key)
}

#[test]
fn values_and_names_are_encrypted_at_rest() {
    let (phys, barrier, _) = setup();
    let view = barrier.view("mount-1");
    view.put("app/db/password", b"hunter2-canary").unwrap();
    for key in phys.scan("").unwrap() {
        assert!(!key.contains("app") && !key.contains("password"), "{key}");
        let v = phys.get(&key).unwrap().unwrap();
        assert!(!v.windows(7).any(|w| w == b"hunter2"));
    }
    assert_eq!(
        view.get("app/db/password").unwrap().as_deref(),
        Some(&b"hunter2-canary"[..])
    );
}

#[test]
fn list_decrypts_children_and_folders() {
    let (_, barrier, _) = setup();
    let view = barrier.view("m");
    for p in ["a/x", "a/y/1", "b", "a/z"] {
        view.put(p, b"v").unwrap();
    }
    assert_eq!(view.list("").unwrap(), vec!["a/", "b"]);
    assert_eq!(view.list("a/").unwrap(), vec!["x", "y/", "z"]);
    assert_eq!(view.scan("a/").unwrap(), vec!["a/x", "a/y/1", "a/z"]);
    assert!(view.list("a").is_err());
}

#[test]
fn views_are_isolated() {
    let (_, barrier, _) = setup();
    barrier.view("one").put("k", b"1").unwrap();
    assert_eq!(barrier.view("two").get("k").unwrap(), None);
    assert!(barrier.view("two").list("").unwrap().is_empty());
}

#[test]
fn moved_ciphertext_fails_to_decrypt() {
    let (phys, barrier, _) = setup();
    let view = barrier.view("m");
    view.put("a", b"secret-a").unwrap();
    view.put("b", b"secret-b").unwrap();
    let keys = phys.scan("d/").unwrap();
    let (ka, kb) = (keys[0].clone(), keys[1].clone());
    let va = phys.get(&ka).unwrap().unwrap();
    phys.put(&kb, &va).unwrap();
    let err_a = view.get("a");
    let err_b = view.get("b");
    assert!(err_a.is_err() || err_b.is_err());
}

#[test]
fn seal_unseal_and_wrong_key() {
    let (_, barrier, key) = setup();
    barrier.view("m").put("k", b"v").unwrap();
    barrier.seal();
    assert!(matches!(
        barrier.view("m").get("k"),
        Err(BarrierError::Sealed)
    ));
    assert!(matches!(
        barrier.unseal(&new_unseal_key()),
        Err(BarrierError::Crypto)
    ));
    barrier.unseal(&key).unwrap();
    assert_eq!(
        barrier.view("m").get("k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn rotate_keeps_old_terms_readable_and_survives_unseal() {
    let (_, barrier, key) = setup();
    let view = barrier.view("m");
    view.put("old", b"1").unwrap();
    let st = barrier.rotate().unwrap();
    assert_eq!(st.term, 2);
    view.put("new", b"2").unwrap();
    barrier.seal();
    barrier.unseal(&key).unwrap();
    assert_eq!(barrier.key_status().unwrap().term, 2);
    assert_eq!(view.get("old").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(view.get("new").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn rekey_changes_the_unseal_key() {
    let (_, barrier, old) = setup();
    barrier.view("m").put("k", b"v").unwrap();
    let new = new_unseal_key();
    barrier
        .rekey(&new, &SealConfig::new(3, 2).unwrap())
        .unwrap();
    barrier.seal();
    assert!(barrier.unseal(&old).is_err());
    barrier.unseal(&new).unwrap();
    assert_eq!(barrier.seal_config().unwrap().unwrap().secret_shares, 3);
    assert_eq!(
        barrier.view("m").get("k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn bad_paths_are_refused() {
    let (_, barrier, _) = setup();
    let view = barrier.view("m");
    for p in ["", "a//b", "../x", "a/./b", "/a", "a/"] {
        assert!(
            matches!(view.put(p, b"v"), Err(BarrierError::InvalidPath(_))),
            "{p}"
        );
    }
    assert!(barrier
        .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
        .is_err());
}

#[test]
fn an_unfinished_init_can_be_redone() {
    let phys = Arc::new(InmemBackend::new());
    let barrier = Barrier::new(phys.clone());
    let cfg = SealConfig::new(1, 1).unwrap();
    barrier.initialize(&new_unseal_key(), &cfg).unwrap();
    assert!(!barrier.is_initialized().unwrap());
    let key = new_unseal_key();
    barrier.initialize(&key, &cfg).unwrap();
    barrier.mark_initialized().unwrap();
    assert!(barrier.is_initialized().unwrap());
    assert!(barrier.initialize(&new_unseal_key(), &cfg).is_err());
    barrier.seal();
    barrier.unseal(&key).unwrap();
}
