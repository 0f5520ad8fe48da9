//! Rotation: the one operation behind manual (`keys/:name/rotate`) and
//! scheduled rotation, retirement of unusable values, and the scheduler.
//!
//! Semantics:
//! - A rotation adds version n+1 as current; the previous current version
//!   stays valid until `now + grace_period` (its `valid_until`), then is
//!   retired (its value erased). Record, schedule and `generation` change in
//!   one write of the key's record, so a crash leaves either the old or the
//!   new state, never half of it.
//! - The core's scheduler (the engine's `periodic` hook, [`run_due`])
//!   rotates a generated key once `now >= next_rotation`. It decides on the in-memory
//!   record, then, under the mount's write lock, re-reads the record from
//!   storage and rotates only if its `generation` is unchanged and it is
//!   still due — so a concurrent manual rotation, or a second tick, never
//!   rotates twice.
//! - The next rotation keeps the cadence (`next_rotation + period`) unless
//!   that is already past — after downtime the key is rotated once and the
//!   next rotation is `now + period`: no catch-up loop.
//! - Imported keys are never generated: once due they show "rotation due"
//!   until a new value is supplied.
//!
//! Owns: the rotation write and the schedule. Must not touch other mounts'
//! state or log key values.

use super::key::{check_importable, generate};
use super::store::{secs_to_ms, KeyRecord, MountState, StoredSecret, VersionRecord, WriteGuard};
use super::webhook;
use crate::barrier::StorageView;
use crate::crypto::SecretString;
use crate::logical::LogicalError;
use crate::sdk::telemetry::Event;

/// Who asked for a rotation.
pub enum Trigger {
    /// `keys/:name/rotate`: always rotates; may override the grace period
    /// and must supply the value of an imported key.
    Manual {
        grace_period: Option<u64>,
        value: Option<SecretString>,
    },
    /// The scheduler, having seen `generation` in memory.
    Scheduled { generation: u64 },
}

/// What a rotation produced (the new key is shown once, to the caller).
pub struct Rotated {
    pub name: String,
    pub version: u64,
    pub key: SecretString,
    pub previous_version: Option<u64>,
    pub previous_valid_until: i64,
    pub next_rotation: i64,
    pub expires: i64,
}

/// A new version for `value`, indexed by its HMAC.
pub fn new_version(state: &MountState, value: &SecretString, ttl: u64, now: i64) -> VersionRecord {
    VersionRecord {
        created: now,
        expires: if ttl > 0 {
            now.saturating_add(secs_to_ms(ttl))
        } else {
            0
        },
        superseded: 0,
        valid_until: 0,
        revoked: 0,
        retired: 0,
        hmac: hex::encode(state.mac(value.expose())),
        key: Some(StoredSecret(value.clone())),
        last_used: 0,
        use_count: 0,
    }
}

/// Checks an imported value: well-formed and not already stored here.
pub fn check_import(state: &MountState, value: &str) -> Result<(), LogicalError> {
    check_importable(value).map_err(LogicalError::BadRequest)?;
    if state.lookup(&state.mac(value)).is_some() {
        return Err(LogicalError::BadRequest(
            "this key value is already stored in this mount".into(),
        ));
    }
    Ok(())
}

/// The value of the new version: generated, or supplied for imported keys.
fn next_value(
    state: &MountState,
    record: &KeyRecord,
    supplied: Option<SecretString>,
) -> Result<SecretString, LogicalError> {
    match (record.imported, supplied) {
        (true, Some(v)) => {
            check_import(state, v.expose())?;
            Ok(v)
        }
        (true, None) => Err(LogicalError::BadRequest(
            "this key was imported: supply the provider's new value in \"key\"".into(),
        )),
        (false, Some(_)) => Err(LogicalError::BadRequest(
            "vault-rs generates this key: \"key\" cannot be given".into(),
        )),
        (false, None) => Ok(generate(&state.config().prefix, record.environment)),
    }
}

/// When the key rotates next after a rotation at `now`.
fn next_rotation(record: &KeyRecord, scheduled: bool, now: i64) -> i64 {
    if record.rotation_period == 0 {
        return 0;
    }
    let period = secs_to_ms(record.rotation_period);
    let on_cadence = record.next_rotation.saturating_add(period);
    if scheduled && record.next_rotation != 0 && on_cadence > now {
        on_cadence
    } else {
        now.saturating_add(period)
    }
}

/// Whether a scheduled rotation decided on an older view still applies.
fn still_due(record: &KeyRecord, generation: u64, now: i64) -> bool {
    record.generation == generation
        && !record.imported
        && record.rotation_period > 0
        && record.rotation_due(now)
}

/// Rotates `name`. `Ok(None)`: a scheduled rotation that no longer applies.
pub fn rotate(
    state: &MountState,
    guard: &WriteGuard<'_>,
    storage: &StorageView,
    name: &str,
    trigger: Trigger,
    now: i64,
) -> Result<Option<Rotated>, LogicalError> {
    let mut record = state
        .read_record(storage, name)?
        .ok_or(LogicalError::NotFound)?;
    let (grace, supplied, scheduled) = match trigger {
        Trigger::Scheduled { generation } => {
            if !still_due(&record, generation, now) {
                return Ok(None);
            }
            (record.grace_period, None, true)
        }
        Trigger::Manual {
            grace_period,
            value,
        } => (grace_period.unwrap_or(record.grace_period), value, false),
    };
    let value = next_value(state, &record, supplied)?;
    let previous = supersede_current(&mut record, grace, now);
    let version = record.versions.keys().next_back().copied().unwrap_or(0) + 1;
    let version = version.max(record.current + 1);
    let fresh = new_version(state, &value, record.ttl, now);
    let expires = fresh.expires;
    record.versions.insert(version, fresh);
    record.current = version;
    record.generation += 1;
    record.updated = now;
    record.next_rotation = next_rotation(&record, scheduled, now);
    record.retire_unusable(now);
    record.prune();
    state.commit(guard, storage, &record)?;
    state.stats.count(&state.stats.rotations);
    state.telemetry.record(Event::ApiKeyRotation);
    if scheduled {
        state.stats.count(&state.stats.scheduled_rotations);
    }
    let rotated = Rotated {
        name: record.name.clone(),
        version,
        key: value,
        previous_version: previous.map(|(v, _)| v),
        previous_valid_until: previous.map_or(0, |(_, until)| until),
        next_rotation: record.next_rotation,
        expires,
    };
    webhook::notify_rotation(
        &state.webhooks,
        &record,
        &rotated,
        scheduled,
        &state.config().webhook_policy(),
    );
    Ok(Some(rotated))
}

/// Marks the current version superseded with `grace` seconds of validity
/// left; returns its number and end of validity.
fn supersede_current(record: &mut KeyRecord, grace: u64, now: i64) -> Option<(u64, i64)> {
    let current = record.current;
    let v = record.versions.get_mut(&current)?;
    if v.superseded == 0 {
        v.superseded = now;
        v.valid_until = now.saturating_add(secs_to_ms(grace));
    }
    let until = if v.state(now).usable() {
        v.valid_until
    } else {
        now
    };
    Some((current, until))
}

/// Erases the values of `name`'s versions that can no longer be used.
pub fn retire(
    state: &MountState,
    guard: &WriteGuard<'_>,
    storage: &StorageView,
    name: &str,
    now: i64,
) -> Result<bool, LogicalError> {
    let Some(mut record) = state.read_record(storage, name)? else {
        return Ok(false);
    };
    if !record.retire_unusable(now) {
        return Ok(false);
    }
    state.commit(guard, storage, &record)?;
    Ok(true)
}

/// One scheduler pass over a mount: due rotations, then retirements.
/// Returns the names of the keys it rotated.
pub fn run_due(state: &MountState, storage: &StorageView, now: i64) -> Vec<String> {
    let mut rotated = Vec::new();
    for record in state.records() {
        let due = !record.imported && record.rotation_period > 0 && record.rotation_due(now);
        let retiring = record.versions.values().any(|v| v.needs_retiring(now));
        if !due && !retiring {
            continue;
        }
        let guard = state.lock_writes();
        let result = if due {
            let trigger = Trigger::Scheduled {
                generation: record.generation,
            };
            rotate(state, &guard, storage, &record.name, trigger, now).map(|r| r.is_some())
        } else {
            retire(state, &guard, storage, &record.name, now).map(|_| false)
        };
        match result {
            Ok(true) => rotated.push(record.name.clone()),
            Ok(false) => {}
            Err(e) => tracing::warn!(mount = storage.id(), key = %record.name, error = %e,
                "scheduled apikeys maintenance failed; will retry"),
        }
    }
    rotated
}
