use std::sync::Arc;

use super::*;
use crate::crypto::SecretBytes;
use crate::physical::InmemBackend;
use crate::seal::{new_unseal_key, SealConfig};

fn vault() -> (Arc<InmemBackend>, Arc<Barrier>, SecretBytes) {
    let phys = Arc::new(InmemBackend::new());
    let barrier = Barrier::new(phys.clone());
    let key = new_unseal_key();
    barrier
        .initialize(&key, &SealConfig::new(1, 1).unwrap())
        .unwrap();
    barrier.mark_initialized().unwrap();
    (phys, barrier, key)
}

fn value(b: &Barrier, view: &str, path: &str) -> Option<Vec<u8>> {
    b.get(view, path).unwrap().map(|v| v.to_vec())
}

fn take_snapshot(b: &Barrier) -> Vec<u8> {
    let mut out = Vec::new();
    b.snapshot(&mut out).unwrap();
    out
}

fn read(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    Snapshot::read(&mut &bytes[..])
}

/// Splits a snapshot file into its header line and body.
fn split(bytes: &[u8]) -> (SnapshotHeader, Vec<u8>) {
    let rest = &bytes[MAGIC.len()..];
    let nl = rest.iter().position(|b| *b == b'\n').unwrap();
    (
        serde_json::from_slice(&rest[..nl]).unwrap(),
        rest[nl + 1..].to_vec(),
    )
}

/// A snapshot file of `body` under a header signed by `key`, with a
/// correct length and SHA-256: what someone holding `key` can produce.
fn forge(mut info: SnapshotInfo, body: &[u8], entries: u64, key: &SigningKey) -> Vec<u8> {
    info.body_bytes = body.len() as u64;
    info.body_sha256 = crypto::sha256_hex(body);
    info.entry_count = entries;
    info.public_key = b64().encode(key.verifying_key().as_bytes());
    let signature = b64().encode(key.sign(&signed_bytes(&info)).to_bytes());
    let mut out = MAGIC.to_vec();
    out.extend(serde_json::to_vec(&SnapshotHeader { info, signature }).unwrap());
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

#[test]
fn offline_restore_gives_identical_reads_on_a_fresh_store() {
    let (phys, barrier, key) = vault();
    barrier.put("kv", "app/db", b"s3cret").unwrap();
    barrier.put("kv", "app/api", b"k3y").unwrap();
    let bytes = take_snapshot(&barrier);
    // The values are not in the file in clear.
    assert!(!bytes.windows(6).any(|w| w == b"s3cret"));
    let snap = read(&bytes).unwrap();
    assert_eq!(snap.len() as u64, snap.header.info.entry_count);
    assert_eq!(snap.header.info.storage_type, "inmem");

    let fresh = Arc::new(InmemBackend::new());
    restore_offline(fresh.as_ref(), snap).unwrap();
    assert_eq!(fresh.export().unwrap(), phys.export().unwrap());
    let restored = Barrier::new(fresh);
    restored.unseal(&key).unwrap();
    assert_eq!(
        value(&restored, "kv", "app/db").as_deref(),
        Some(&b"s3cret"[..])
    );
    assert_eq!(
        value(&restored, "kv", "app/api").as_deref(),
        Some(&b"k3y"[..])
    );
}

#[test]
fn online_restore_replaces_everything_and_seals() {
    let (_, barrier, key) = vault();
    barrier.put("kv", "a", b"1").unwrap();
    let bytes = take_snapshot(&barrier);
    barrier.put("kv", "a", b"2").unwrap();
    barrier.put("kv", "b", b"new").unwrap();
    barrier
        .restore_snapshot(read(&bytes).unwrap(), false)
        .unwrap();
    assert!(barrier.is_sealed());
    barrier.unseal(&key).unwrap();
    assert_eq!(value(&barrier, "kv", "a").as_deref(), Some(&b"1"[..]));
    assert_eq!(value(&barrier, "kv", "b"), None);
}

#[test]
fn a_rotated_keyring_still_restores_an_older_snapshot() {
    let (_, barrier, key) = vault();
    barrier.put("kv", "a", b"1").unwrap();
    let bytes = take_snapshot(&barrier);
    barrier.rotate().unwrap();
    barrier
        .restore_snapshot(read(&bytes).unwrap(), false)
        .unwrap();
    barrier.unseal(&key).unwrap();
    assert_eq!(value(&barrier, "kv", "a").as_deref(), Some(&b"1"[..]));
}

#[test]
fn another_vaults_snapshot_needs_force() {
    let (_, a, _) = vault();
    let (_, b, b_key) = vault();
    b.put("kv", "x", b"from-b").unwrap();
    let bytes = take_snapshot(&b);
    a.put("kv", "x", b"from-a").unwrap();
    assert!(matches!(
        a.restore_snapshot(read(&bytes).unwrap(), false),
        Err(SnapshotError::OtherVault)
    ));
    assert!(!a.is_sealed(), "a refused restore changes nothing");
    assert_eq!(value(&a, "kv", "x").as_deref(), Some(&b"from-a"[..]));
    a.restore_snapshot(read(&bytes).unwrap(), true).unwrap();
    a.unseal(&b_key).unwrap();
    assert_eq!(value(&a, "kv", "x").as_deref(), Some(&b"from-b"[..]));
}

#[test]
fn a_sealed_vault_neither_takes_nor_restores() {
    let (_, barrier, _) = vault();
    let bytes = take_snapshot(&barrier);
    barrier.seal();
    assert!(matches!(
        barrier.snapshot(&mut Vec::new()),
        Err(SnapshotError::Barrier(BarrierError::Sealed))
    ));
    assert!(matches!(
        barrier.restore_snapshot(read(&bytes).unwrap(), false),
        Err(SnapshotError::Barrier(BarrierError::Sealed))
    ));
}

#[test]
fn every_truncation_is_refused() {
    let (_, barrier, _) = vault();
    barrier.put("kv", "a", b"value").unwrap();
    let bytes = take_snapshot(&barrier);
    for cut in 0..bytes.len() {
        assert!(read(&bytes[..cut]).is_err(), "cut at {cut} accepted");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(read(&longer), Err(SnapshotError::Malformed(_))));
}

#[test]
fn every_flipped_byte_is_refused() {
    let (_, barrier, _) = vault();
    barrier.put("kv", "a", b"value").unwrap();
    let bytes = take_snapshot(&barrier);
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        assert!(read(&bad).is_err(), "flip at {i} accepted");
    }
}

#[test]
fn reordered_or_repeated_entries_are_refused_even_when_signed() {
    let (_, barrier, _) = vault();
    barrier.put("kv", "a", b"1").unwrap();
    barrier.put("kv", "b", b"2").unwrap();
    let bytes = take_snapshot(&barrier);
    let (header, _) = split(&bytes);
    let mut entries = read(&bytes).unwrap().entries;
    let n = entries.len() as u64;
    let key = signing_key(&barrier.unsealed().unwrap());
    entries.swap(0, 1);
    let swapped = forge(
        header.info.clone(),
        &encode_body(&entries).unwrap(),
        n,
        &key,
    );
    assert!(matches!(read(&swapped), Err(SnapshotError::Malformed(_))));
    entries.swap(0, 1);
    entries.insert(1, entries[0].clone());
    let repeated = forge(header.info, &encode_body(&entries).unwrap(), n + 1, &key);
    assert!(matches!(read(&repeated), Err(SnapshotError::Malformed(_))));
}

#[test]
fn a_forged_signature_is_refused_and_a_foreign_key_is_another_vault() {
    let (_, barrier, _) = vault();
    barrier.put("kv", "a", b"1").unwrap();
    let bytes = take_snapshot(&barrier);
    let (mut header, body) = split(&bytes);
    // The body altered, the header's sums fixed, the signature left: refused.
    header.info.keyring_term += 1;
    let mut out = MAGIC.to_vec();
    out.extend(serde_json::to_vec(&header).unwrap());
    out.push(b'\n');
    out.extend_from_slice(&body);
    assert!(matches!(read(&out), Err(SnapshotError::Signature)));
    // Re-signed with an outsider's key: well-formed, but not this vault's.
    let outsider = SigningKey::from_bytes(&[9u8; 32]);
    let n = header.info.entry_count;
    let resigned = forge(header.info, &body, n, &outsider);
    assert!(matches!(
        barrier.restore_snapshot(read(&resigned).unwrap(), false),
        Err(SnapshotError::OtherVault)
    ));
}

#[test]
fn a_store_that_is_not_a_vault_is_refused() {
    let (_, barrier, _) = vault();
    let bytes = take_snapshot(&barrier);
    let (header, _) = split(&bytes);
    let key = signing_key(&barrier.unsealed().unwrap());
    let empty = forge(header.info.clone(), &[], 0, &key);
    assert!(matches!(read(&empty), Err(SnapshotError::NotAVault(_))));
    let junk = vec![("x/y".to_string(), b"z".to_vec())];
    let junk = forge(header.info, &encode_body(&junk).unwrap(), 1, &key);
    assert!(matches!(read(&junk), Err(SnapshotError::NotAVault(_))));
}

#[test]
fn a_newer_format_is_refused_by_version() {
    let (_, barrier, _) = vault();
    let bytes = take_snapshot(&barrier);
    let (mut header, body) = split(&bytes);
    header.info.format_version = 2;
    let key = signing_key(&barrier.unsealed().unwrap());
    let n = header.info.entry_count;
    let v2 = forge(header.info, &body, n, &key);
    assert!(matches!(
        read(&v2),
        Err(SnapshotError::UnsupportedVersion(2))
    ));
}

#[test]
fn sled_export_is_consistent_under_concurrent_writes() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let phys: Arc<dyn Backend> = Arc::new(crate::physical::SledBackend::open(dir.path()).unwrap());
    let barrier = Barrier::new(phys.clone());
    let key = new_unseal_key();
    barrier
        .initialize(&key, &SealConfig::new(1, 1).unwrap())
        .unwrap();
    barrier.mark_initialized().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Each write changes two keys in one transaction: a snapshot must never
    // hold one without the other.
    let writer = {
        let (barrier, stop) = (barrier.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let v = i.to_string().into_bytes();
                barrier
                    .transaction(vec![
                        crate::barrier::WriteOp::Put {
                            view: "kv".into(),
                            path: "left".into(),
                            value: v.clone(),
                        },
                        crate::barrier::WriteOp::Put {
                            view: "kv".into(),
                            path: "right".into(),
                            value: v,
                        },
                    ])
                    .unwrap();
                i += 1;
            }
        })
    };
    for _ in 0..20 {
        let snap = read(&take_snapshot(&barrier)).unwrap();
        let scratch = Arc::new(InmemBackend::new());
        restore_offline(scratch.as_ref(), snap).unwrap();
        let copy = Barrier::new(scratch);
        copy.unseal(&key).unwrap();
        assert_eq!(value(&copy, "kv", "left"), value(&copy, "kv", "right"));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}
