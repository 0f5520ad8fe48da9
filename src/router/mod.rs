//! The mount table and routing.
//!
//! Owns: mount entries (path, type, UUID, config, options), their
//! persistence in the core view, and longest-prefix matching of a request
//! path to a mount. Must not touch: the barrier below the mount's own
//! storage view, tokens, or HTTP.

mod table;
pub use table::normalize_mount_path;

pub use table::{MountConfig, MountEntry, MountTable, MountTableError, UserLockoutConfig};

use std::sync::Arc;

use crate::barrier::StorageView;
pub use crate::logical::BackendFactory;
use crate::logical::{LogicalBackend, MountContext};

/// A live mount: its entry, its engine, and its storage view.
#[derive(Clone)]
pub struct Mounted {
    pub entry: MountEntry,
    pub backend: Arc<dyn LogicalBackend>,
    pub storage: StorageView,
}

/// Mounts ordered for longest-prefix matching.
///
/// A published router is immutable: requests share it through an `Arc`
/// ([`MountSet::snapshot`]); a change builds a new one from a copy (a
/// vector of `Arc`s, not of mounts) and swaps it in ([`MountSet::update`]).
#[derive(Clone, Default)]
pub struct Router {
    mounts: Vec<Arc<Mounted>>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a mount (the caller has checked for conflicts).
    pub fn insert(&mut self, m: Mounted) {
        self.mounts.push(Arc::new(m));
        self.mounts
            .sort_by_key(|m| std::cmp::Reverse(m.entry.path.len()));
    }

    /// Removes the mount at exactly `path`.
    pub fn remove(&mut self, path: &str) -> Option<Arc<Mounted>> {
        let i = self.mounts.iter().position(|m| m.entry.path == path)?;
        Some(self.mounts.remove(i))
    }

    /// The mount serving `path` and the path relative to it.
    pub fn route<'a>(&self, path: &'a str) -> Option<(&Arc<Mounted>, &'a str)> {
        for m in &self.mounts {
            if let Some(rest) = path.strip_prefix(m.entry.path.as_str()) {
                return Some((m, rest));
            }
            // "secret" addresses the mount "secret/" itself.
            if m.entry.path.strip_suffix('/') == Some(path) {
                return Some((m, ""));
            }
        }
        None
    }

    /// The mount at exactly `path`.
    pub fn get(&self, path: &str) -> Option<&Arc<Mounted>> {
        self.mounts.iter().find(|m| m.entry.path == path)
    }

    /// Whether `path` would overlap an existing mount (one a prefix of the other).
    pub fn conflicts(&self, path: &str) -> bool {
        self.mounts
            .iter()
            .any(|m| m.entry.path.starts_with(path) || path.starts_with(m.entry.path.as_str()))
    }

    pub fn all(&self) -> &[Arc<Mounted>] {
        &self.mounts
    }
}

/// A persisted, routable set of mounts (secrets engines, or auth methods
/// under `auth/`). The live router is an immutable snapshot behind an
/// `Arc`: readers take the `Arc` (no copy of the table); changes go
/// through [`MountSet::update`], which persists the new table before
/// publishing it, one change at a time.
pub struct MountSet {
    router: std::sync::RwLock<Arc<Router>>,
    table: MountTable,
    /// Serialises changes (held across the storage write and the swap).
    lock: std::sync::Mutex<()>,
    /// "" for secrets engines, "auth/" for auth methods.
    pub prefix: &'static str,
}

impl MountSet {
    /// Loads the table (adding any missing `defaults`) and builds the
    /// router: each mount's backend is made by `factory` from the context
    /// `context_of` gives for its entry.
    pub fn load(
        table: MountTable,
        prefix: &'static str,
        defaults: Vec<MountEntry>,
        factory: BackendFactory,
        context_of: &dyn Fn(&MountEntry) -> MountContext,
    ) -> Result<MountSet, MountTableError> {
        let mut entries = table.load()?.unwrap_or_default();
        let before = entries.len();
        for d in defaults {
            if !entries.iter().any(|e| e.path == d.path) {
                entries.push(d);
            }
        }
        if entries.len() != before {
            table.save(&entries)?;
        }
        let mut router = Router::new();
        for entry in entries {
            let ctx = context_of(&entry);
            let backend =
                factory(&ctx).ok_or_else(|| MountTableError::UnknownType(entry.kind.clone()))?;
            let storage = ctx.storage;
            router.insert(Mounted {
                entry,
                backend,
                storage,
            });
        }
        Ok(MountSet {
            router: std::sync::RwLock::new(Arc::new(router)),
            table,
            lock: std::sync::Mutex::new(()),
            prefix,
        })
    }

    /// The live router: a shared, immutable snapshot (an `Arc` clone).
    pub fn snapshot(&self) -> Arc<Router> {
        self.router
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Changes the mount table atomically with its storage write: under
    /// the change lock, `change` edits a copy of the live router and says
    /// whether it changed anything (`Ok(None)`: nothing to save); the new
    /// table is persisted, and only then published. An error from
    /// `change` or from storage leaves the live router and the stored
    /// table as they were.
    pub fn update<T, E>(
        &self,
        change: impl FnOnce(&mut Router) -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E>
    where
        E: From<crate::barrier::BarrierError>,
    {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = Router::clone(&self.snapshot());
        let Some(out) = change(&mut next)? else {
            return Ok(None);
        };
        let entries: Vec<MountEntry> = next.all().iter().map(|m| m.entry.clone()).collect();
        self.table.save(&entries)?;
        *self.router.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::{Barrier, BarrierError};
    use crate::physical::InmemBackend;
    use crate::seal::{new_unseal_key, SealConfig};

    fn factory(ctx: &MountContext) -> Option<Arc<dyn LogicalBackend>> {
        match ctx.kind.as_str() {
            "kv" => Some(Arc::new(crate::logical::kv::KvBackend::new(ctx))),
            _ => None,
        }
    }

    fn context(barrier: &Arc<Barrier>, entry: &MountEntry) -> MountContext {
        MountContext {
            path: entry.path.clone(),
            kind: entry.kind.clone(),
            storage: barrier.view(&entry.uuid),
            api_addr: None,
            clock: Arc::new(crate::sdk::SystemClock),
            telemetry: Arc::new(crate::sdk::NoTelemetry),
        }
    }

    fn set() -> (Arc<Barrier>, MountSet) {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        barrier
            .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
            .unwrap();
        barrier.mark_initialized().unwrap();
        let table = MountTable::new(barrier.view("core"), "mounts");
        let context_of = |entry: &MountEntry| context(&barrier, entry);
        let set = MountSet::load(table, "", Vec::new(), factory, &context_of).unwrap();
        (barrier, set)
    }

    fn add(barrier: &Arc<Barrier>, router: &mut Router, path: &str) {
        let entry = MountEntry::new(path, "kv", "");
        let ctx = context(barrier, &entry);
        router.insert(Mounted {
            backend: factory(&ctx).unwrap(),
            entry,
            storage: ctx.storage,
        });
    }

    fn stored_paths(barrier: &Arc<Barrier>) -> Vec<String> {
        MountTable::new(barrier.view("core"), "mounts")
            .load()
            .unwrap()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.path)
            .collect()
    }

    #[test]
    fn readers_share_one_immutable_snapshot() {
        let (barrier, set) = set();
        let before = set.snapshot();
        assert!(
            Arc::ptr_eq(&before, &set.snapshot()),
            "a read copies nothing"
        );
        set.update(|r| {
            add(&barrier, r, "a/");
            Ok::<_, BarrierError>(Some(()))
        })
        .unwrap();
        // A request holding the old snapshot keeps seeing the old table.
        assert!(before.get("a/").is_none());
        let after = set.snapshot();
        assert!(after.get("a/").is_some());
        assert_eq!(stored_paths(&barrier), ["a/"]);
        // The new table shares the unchanged mounts with the old one.
        set.update(|r| {
            add(&barrier, r, "bb/");
            Ok::<_, BarrierError>(Some(()))
        })
        .unwrap();
        let third = set.snapshot();
        assert!(Arc::ptr_eq(
            after.get("a/").unwrap(),
            third.get("a/").unwrap()
        ));
    }

    #[test]
    fn a_change_is_published_only_once_persisted() {
        let (barrier, set) = set();
        // The change itself fails: nothing stored, nothing published.
        let r: Result<Option<()>, BarrierError> = set.update(|r| {
            add(&barrier, r, "a/");
            Err(BarrierError::Sealed)
        });
        assert!(r.is_err());
        assert!(set.snapshot().get("a/").is_none());
        assert!(stored_paths(&barrier).is_empty());
        // No change: nothing stored.
        let none = set
            .update(|_| Ok::<Option<()>, BarrierError>(None))
            .unwrap();
        assert!(none.is_none());
        assert!(MountTable::new(barrier.view("core"), "mounts")
            .load()
            .unwrap()
            .is_none());
        // The storage write fails: the live router stays as it was.
        barrier.seal();
        let r = set.update(|r| {
            add(&barrier, r, "b/");
            Ok::<_, BarrierError>(Some(()))
        });
        assert!(r.is_err());
        assert!(set.snapshot().get("b/").is_none());
    }
}
