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
        view.get("app/db/password")
            .unwrap()
            .as_deref()
            .map(|v| &v[..]),
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
        barrier
            .view("m")
            .get("k")
            .unwrap()
            .as_deref()
            .map(|v| &v[..]),
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
    assert_eq!(
        view.get("old").unwrap().as_deref().map(|v| &v[..]),
        Some(&b"1"[..])
    );
    assert_eq!(
        view.get("new").unwrap().as_deref().map(|v| &v[..]),
        Some(&b"2"[..])
    );
}

#[test]
fn rekey_changes_the_unseal_key_once_the_new_one_is_used() {
    let (_, barrier, old) = setup();
    barrier.view("m").put("k", b"v").unwrap();
    let new = new_unseal_key();
    barrier
        .rekey(&old, &new, &SealConfig::new(3, 2).unwrap(), None)
        .unwrap();
    assert!(barrier.previous_shares_valid().unwrap());
    assert_eq!(barrier.seal_config().unwrap().unwrap().secret_shares, 3);
    // Until the new key is used, the old one still opens the vault ...
    barrier.seal();
    assert_eq!(barrier.unseal(&old).unwrap(), UnsealedWith::Previous);
    assert!(barrier.previous_shares_valid().unwrap());
    // ... and the first use of the new key retires it.
    barrier.seal();
    assert_eq!(barrier.unseal(&new).unwrap(), UnsealedWith::Current);
    assert!(!barrier.previous_shares_valid().unwrap());
    barrier.seal();
    assert!(matches!(barrier.unseal(&old), Err(BarrierError::Crypto)));
    barrier.unseal(&new).unwrap();
    assert_eq!(
        barrier
            .view("m")
            .get("k")
            .unwrap()
            .as_deref()
            .map(|v| &v[..]),
        Some(&b"v"[..])
    );
}

#[test]
fn rekey_with_a_key_that_opens_nothing_is_refused() {
    let (_, barrier, _) = setup();
    let err = barrier.rekey(
        &new_unseal_key(),
        &new_unseal_key(),
        &SealConfig::new(1, 1).unwrap(),
        None,
    );
    assert!(matches!(err, Err(BarrierError::Crypto)));
    assert!(!barrier.previous_shares_valid().unwrap());
}

#[test]
fn rekey_authorised_by_the_previous_set_replaces_the_unused_one() {
    // The response with the new shares was lost: the operator rekeys again
    // with the shares they hold, and the lost set stops opening the vault.
    let (_, barrier, old) = setup();
    let lost = new_unseal_key();
    let cfg = SealConfig::new(1, 1).unwrap();
    barrier.rekey(&old, &lost, &cfg, None).unwrap();
    let newest = new_unseal_key();
    barrier.rekey(&old, &newest, &cfg, None).unwrap();
    barrier.seal();
    assert!(matches!(barrier.unseal(&lost), Err(BarrierError::Crypto)));
    assert_eq!(barrier.unseal(&old).unwrap(), UnsealedWith::Previous);
    barrier.seal();
    assert_eq!(barrier.unseal(&newest).unwrap(), UnsealedWith::Current);
}

#[test]
fn shares_are_matched_to_their_set_by_tag() {
    let phys = Arc::new(InmemBackend::new());
    let barrier = Barrier::new(phys);
    let key = new_unseal_key();
    let cfg = SealConfig::new(5, 3).unwrap();
    barrier
        .initialize_for_shares(&key, &cfg, Some("tag-a".into()))
        .unwrap();
    barrier.mark_initialized().unwrap();
    assert_eq!(
        barrier.config_for_share("tag-a").unwrap(),
        Some(cfg.clone())
    );
    assert_eq!(barrier.config_for_share("another-vault").unwrap(), None);
    let cfg2 = SealConfig::new(2, 2).unwrap();
    barrier
        .rekey(&key, &new_unseal_key(), &cfg2, Some("tag-b".into()))
        .unwrap();
    assert_eq!(barrier.config_for_share("tag-b").unwrap(), Some(cfg2));
    assert_eq!(barrier.config_for_share("tag-a").unwrap(), Some(cfg));
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
fn an_unfinished_init_can_be_redone_and_its_leftovers_go() {
    let phys = Arc::new(InmemBackend::new());
    let barrier = Barrier::new(phys.clone());
    let cfg = SealConfig::new(1, 1).unwrap();
    barrier.initialize(&new_unseal_key(), &cfg).unwrap();
    barrier.view("sys").put("mounts", b"half").unwrap();
    assert_eq!(barrier.storage_state().unwrap(), StorageState::Initializing);
    assert!(!barrier.is_initialized().unwrap());
    barrier.seal();
    let key = new_unseal_key();
    barrier.initialize(&key, &cfg).unwrap();
    assert_eq!(phys.scan("d/").unwrap(), Vec::<String>::new());
    barrier.mark_initialized().unwrap();
    assert!(barrier.is_initialized().unwrap());
    assert!(matches!(
        barrier.initialize(&new_unseal_key(), &cfg),
        Err(BarrierError::AlreadyInitialized)
    ));
    barrier.seal();
    barrier.unseal(&key).unwrap();
}

#[test]
fn a_store_with_data_but_no_seal_record_is_damaged_not_new() {
    let (phys, barrier, _) = setup();
    barrier.view("m").put("k", b"v").unwrap();
    phys.delete("core/seal").unwrap();
    let fresh = Barrier::new(phys.clone());
    assert!(matches!(
        fresh.storage_state().unwrap(),
        StorageState::Damaged(_)
    ));
    assert!(matches!(
        fresh.is_initialized(),
        Err(BarrierError::Damaged(_))
    ));
    let before = phys.scan("").unwrap();
    assert!(matches!(
        fresh.initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap()),
        Err(BarrierError::Damaged(_))
    ));
    assert_eq!(phys.scan("").unwrap(), before, "nothing replaced");
}

#[test]
fn an_undecodable_seal_record_is_damaged() {
    let (phys, _, key) = setup();
    let mut rec = phys.get("core/seal").unwrap().unwrap();
    rec[0] ^= 0x55;
    phys.put("core/seal", &rec).unwrap();
    let fresh = Barrier::new(phys.clone());
    assert!(matches!(
        fresh.storage_state().unwrap(),
        StorageState::Damaged(_)
    ));
    assert!(fresh.unseal(&key).is_err());
    assert!(fresh
        .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
        .is_err());
}

#[test]
fn empty_store_is_empty() {
    let barrier = Barrier::new(Arc::new(InmemBackend::new()));
    assert_eq!(barrier.storage_state().unwrap(), StorageState::Empty);
    assert!(!barrier.is_initialized().unwrap());
}

/// Writes a store in the layout used before the seal record: the keyring
/// sealed under HKDF(unseal key) with AAD "core/keyring", config beside it.
fn legacy_store(key: &SecretBytes, cfg: &SealConfig, done: bool) -> Arc<InmemBackend> {
    let phys = Arc::new(InmemBackend::new());
    let kr = Keyring::generate_with_root_key(keyring::legacy_root_key(key));
    phys.put(legacy::KEYRING_KEY, &kr.wrap(legacy::KEYRING_KEY).unwrap())
        .unwrap();
    phys.put(legacy::SEAL_CONFIG_KEY, &serde_json::to_vec(cfg).unwrap())
        .unwrap();
    if done {
        phys.put(legacy::INIT_DONE_KEY, b"1").unwrap();
    }
    phys
}

#[test]
fn an_old_layout_store_unseals_and_is_migrated_to_the_seal_record() {
    let key = new_unseal_key();
    let cfg = SealConfig::new(3, 2).unwrap();
    let phys = legacy_store(&key, &cfg, true);
    let barrier = Barrier::new(phys.clone());
    assert_eq!(barrier.storage_state().unwrap(), StorageState::Initialized);
    assert_eq!(barrier.config_for_share("any").unwrap(), Some(cfg.clone()));
    assert!(matches!(
        barrier.unseal(&new_unseal_key()),
        Err(BarrierError::Crypto)
    ));
    assert_eq!(barrier.unseal(&key).unwrap(), UnsealedWith::Current);
    barrier.view("m").put("k", b"v").unwrap();
    for k in legacy::ALL {
        assert_eq!(phys.get(k).unwrap(), None, "{k}");
    }
    let again = Barrier::new(phys.clone());
    assert_eq!(again.seal_config().unwrap(), Some(cfg));
    again.unseal(&key).unwrap();
    assert_eq!(
        again.view("m").get("k").unwrap().as_deref().map(|v| &v[..]),
        Some(&b"v"[..])
    );
}

#[test]
fn old_layout_half_init_is_redoable_only_when_nothing_else_exists() {
    let key = new_unseal_key();
    let cfg = SealConfig::new(1, 1).unwrap();
    let phys = legacy_store(&key, &cfg, false);
    assert_eq!(
        Barrier::new(phys.clone()).storage_state().unwrap(),
        StorageState::Initializing
    );
    phys.put("d/sys/x", b"data").unwrap();
    assert!(matches!(
        Barrier::new(phys.clone()).storage_state().unwrap(),
        StorageState::Damaged(_)
    ));
    phys.delete(legacy::SEAL_CONFIG_KEY).unwrap();
    phys.delete("d/sys/x").unwrap();
    assert!(matches!(
        Barrier::new(phys).storage_state().unwrap(),
        StorageState::Damaged(_)
    ));
}

/// What the write at which the process dies does.
#[derive(Clone, Copy, Debug)]
enum Crash {
    /// Nothing of it reaches the disk.
    Lost,
    /// All of it reaches the disk; the caller never learns.
    Applied,
    /// Only the first operation of a multi-entry write reaches the disk (a
    /// storage engine without crash-atomic batches).
    Torn,
}

/// A backend whose process "dies" at its `n`-th write (counted from when
/// it is armed): that write is lost, applied or torn, every later write
/// fails. "Restarting" is opening a new barrier over `inner`.
struct Crashing {
    inner: Arc<InmemBackend>,
    left: std::sync::Mutex<Option<usize>>,
    mode: Crash,
}

impl Crashing {
    fn arm(&self, n: usize) {
        *self.left.lock().unwrap() = Some(n);
    }

    /// Whether the armed (fatal) write was reached.
    fn died(&self) -> bool {
        *self.left.lock().unwrap() == Some(0)
    }

    /// `Ok(true)`: apply fully; `Ok(false)`: this is the fatal write.
    fn step(&self) -> Result<bool, crate::physical::PhysicalError> {
        let mut left = self.left.lock().unwrap();
        match *left {
            None => Ok(true),
            Some(0) => Err(crate::physical::PhysicalError::Io("process died".into())),
            Some(n) => {
                *left = Some(n - 1);
                Ok(n > 1)
            }
        }
    }

    fn write(&self, ops: Vec<TxnOp>) -> Result<(), crate::physical::PhysicalError> {
        if self.step()? {
            return self.inner.transaction(ops);
        }
        match self.mode {
            Crash::Lost => {}
            Crash::Applied => self.inner.transaction(ops)?,
            Crash::Torn => self.inner.transaction(ops.into_iter().take(1).collect())?,
        }
        Err(crate::physical::PhysicalError::Io("process died".into()))
    }
}

impl Backend for Crashing {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::physical::PhysicalError> {
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), crate::physical::PhysicalError> {
        self.write(vec![TxnOp::Put(key.into(), value.to_vec())])
    }
    fn delete(&self, key: &str) -> Result<(), crate::physical::PhysicalError> {
        self.write(vec![TxnOp::Delete(key.into())])
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, crate::physical::PhysicalError> {
        self.inner.list(prefix)
    }
    fn scan(&self, prefix: &str) -> Result<Vec<String>, crate::physical::PhysicalError> {
        self.inner.scan(prefix)
    }
    fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), crate::physical::PhysicalError> {
        self.write(ops)
    }
    fn flush(&self) -> Result<(), crate::physical::PhysicalError> {
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "crashing"
    }
}

type Op<'a> = &'a dyn Fn(&Arc<Barrier>, &SecretBytes) -> Result<(), BarrierError>;
type Check<'a> = &'a dyn Fn(&Arc<Barrier>, &SecretBytes, Crash, usize);

/// Runs `op` on an unsealed vault with the process dying at every write it
/// makes, in every [`Crash`] mode, and hands each restarted store to
/// `check` with whether the op had succeeded (it never has when it crashed).
fn at_every_kill_point(
    setup_vault: &dyn Fn(&Arc<Barrier>) -> SecretBytes,
    op: Op<'_>,
    check: Check<'_>,
) -> usize {
    let mut points = 0;
    for mode in [Crash::Lost, Crash::Applied, Crash::Torn] {
        for n in 1.. {
            let inner = Arc::new(InmemBackend::new());
            let crashing = Arc::new(Crashing {
                inner: inner.clone(),
                left: std::sync::Mutex::new(None),
                mode,
            });
            let barrier = Barrier::new(crashing.clone());
            let key = setup_vault(&barrier);
            crashing.arm(n);
            // An operation may carry on past a failed write (the unseal
            // that retires the old share set does): the process still died.
            let finished = op(&barrier, &key).is_ok() && !crashing.died();
            let restarted = Barrier::new(inner);
            assert_eq!(
                restarted.storage_state().unwrap(),
                StorageState::Initialized,
                "{mode:?} at write {n}"
            );
            if finished {
                break;
            }
            points += 1;
            check(&restarted, &key, mode, n);
        }
    }
    points
}

fn vault_with_data(barrier: &Arc<Barrier>) -> SecretBytes {
    let key = new_unseal_key();
    barrier
        .initialize_for_shares(&key, &SealConfig::new(5, 3).unwrap(), Some("old".into()))
        .unwrap();
    barrier.mark_initialized().unwrap();
    barrier.view("m").put("before", b"kept").unwrap();
    key
}

fn reads_back(barrier: &Arc<Barrier>) {
    assert_eq!(
        barrier
            .view("m")
            .get("before")
            .unwrap()
            .as_deref()
            .map(|v| &v[..]),
        Some(&b"kept"[..])
    );
}

#[test]
fn a_crash_at_any_point_of_a_rekey_leaves_the_held_shares_working() {
    let new_key = new_unseal_key();
    let points = at_every_kill_point(
        &vault_with_data,
        &|b, old| {
            b.rekey(
                old,
                &new_key,
                &SealConfig::new(2, 2).unwrap(),
                Some("new".into()),
            )
        },
        &|restarted, old, mode, n| {
            // The operator never got the new shares: the old ones open it,
            // with the threshold of their own set.
            assert_eq!(
                restarted
                    .config_for_share("old")
                    .unwrap()
                    .map(|c| c.secret_threshold),
                Some(3),
                "{mode:?} at write {n}"
            );
            restarted.unseal(old).unwrap();
            reads_back(restarted);
            restarted.seal();
            // The new key opens it too if the switch reached the disk.
            if restarted.unseal(&new_key).is_ok() {
                reads_back(restarted);
            }
        },
    );
    assert!(points >= 3, "{points}");
}

#[test]
fn a_crash_at_any_point_of_the_unseal_after_a_rekey_leaves_both_sets_working() {
    let new_key = new_unseal_key();
    let setup_rekeyed = |b: &Arc<Barrier>| {
        let old = vault_with_data(b);
        b.rekey(
            &old,
            &new_key,
            &SealConfig::new(2, 2).unwrap(),
            Some("new".into()),
        )
        .unwrap();
        b.seal();
        old
    };
    let points = at_every_kill_point(
        &setup_rekeyed,
        &|b, _| b.unseal(&new_key).map(|_| ()),
        &|restarted, _old, mode, n| {
            restarted
                .unseal(&new_key)
                .unwrap_or_else(|e| panic!("{mode:?} at write {n}: {e}"));
            reads_back(restarted);
        },
    );
    assert!(points >= 1, "{points}");
}

#[test]
fn a_crash_at_any_point_of_a_rotation_keeps_every_term_readable() {
    let points = at_every_kill_point(
        &vault_with_data,
        &|b, _| {
            b.rotate()?;
            b.view("m").put("after", b"new-term")
        },
        &|restarted, key, mode, n| {
            restarted
                .unseal(key)
                .unwrap_or_else(|e| panic!("{mode:?} at write {n}: {e}"));
            reads_back(restarted);
            let after = restarted.view("m").get("after").unwrap();
            assert!(after.is_none() || after.as_deref().map(|v| &v[..]) == Some(b"new-term"));
        },
    );
    assert!(points >= 2, "{points}");
}

#[test]
fn a_crash_at_any_point_of_init_leaves_a_store_that_init_may_redo() {
    for mode in [Crash::Lost, Crash::Applied, Crash::Torn] {
        for n in 1..4 {
            let inner = Arc::new(InmemBackend::new());
            let crashing = Arc::new(Crashing {
                inner: inner.clone(),
                left: std::sync::Mutex::new(Some(n)),
                mode,
            });
            let barrier = Barrier::new(crashing);
            let done = barrier
                .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
                .and_then(|_| barrier.view("sys").put("mounts", b"x"))
                .and_then(|_| barrier.mark_initialized());
            let restarted = Barrier::new(inner.clone());
            let state = restarted.storage_state().unwrap();
            if done.is_ok() {
                assert_eq!(state, StorageState::Initialized);
                continue;
            }
            assert!(
                matches!(state, StorageState::Empty | StorageState::Initializing)
                    || (matches!(mode, Crash::Applied | Crash::Torn)
                        && state == StorageState::Initialized),
                "{mode:?} at write {n}: {state:?}"
            );
            if state != StorageState::Initialized {
                let key = new_unseal_key();
                restarted
                    .initialize(&key, &SealConfig::new(1, 1).unwrap())
                    .unwrap();
                restarted.mark_initialized().unwrap();
                restarted.seal();
                restarted.unseal(&key).unwrap();
                assert_eq!(restarted.view("sys").get("mounts").unwrap(), None);
            }
        }
    }
}

/// The landed layout kept the seal configuration and the keyring in two
/// entries written by one batch: a batch torn by a crash left a config whose
/// threshold matched neither share set. Every switch is now one entry.
#[test]
fn every_keyring_change_is_a_single_entry_write() {
    let phys = Arc::new(InmemBackend::new());
    let counting = Arc::new(Crashing {
        inner: phys.clone(),
        left: std::sync::Mutex::new(None),
        mode: Crash::Torn,
    });
    let barrier = Barrier::new(counting);
    let key = vault_with_data(&barrier);
    let before = phys.scan("core/").unwrap();
    barrier.rotate().unwrap();
    barrier
        .rekey(
            &key,
            &new_unseal_key(),
            &SealConfig::new(2, 2).unwrap(),
            None,
        )
        .unwrap();
    assert_eq!(phys.scan("core/").unwrap(), before);
    assert_eq!(before, vec!["core/seal".to_string()]);
}

#[test]
fn a_verified_rekey_retires_the_old_shares_at_once() {
    let (_, barrier, old) = setup();
    let new = new_unseal_key();
    barrier
        .rekey_verified(&new, &SealConfig::new(2, 2).unwrap(), Some("v".into()))
        .unwrap();
    assert!(!barrier.previous_shares_valid().unwrap());
    barrier.seal();
    assert!(matches!(barrier.unseal(&old), Err(BarrierError::Crypto)));
    assert_eq!(barrier.unseal(&new).unwrap(), UnsealedWith::Current);
}

#[test]
fn a_crash_at_any_point_of_a_verified_rekey_leaves_one_of_the_held_sets_working() {
    // With verification the operator holds both sets when the switch runs.
    let new_key = new_unseal_key();
    at_every_kill_point(
        &vault_with_data,
        &|b, _| b.rekey_verified(&new_key, &SealConfig::new(2, 2).unwrap(), None),
        &|restarted, old, mode, n| {
            let opened = restarted.unseal(old).is_ok() || restarted.unseal(&new_key).is_ok();
            assert!(opened, "{mode:?} at write {n}");
            reads_back(restarted);
        },
    );
}
