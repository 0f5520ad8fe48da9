//! The mount table and routing.
//!
//! Owns: mount entries (path, type, UUID, config, options), their
//! persistence in the core view, and longest-prefix matching of a request
//! path to a mount. Must not touch: the barrier below the mount's own
//! storage view, tokens, or HTTP.

mod table;
pub use table::normalize_mount_path;

pub use table::{MountConfig, MountEntry, MountTable, MountTableError};

use std::sync::Arc;

use crate::barrier::StorageView;
use crate::logical::LogicalBackend;

/// A live mount: its entry, its engine, and its storage view.
#[derive(Clone)]
pub struct Mounted {
    pub entry: MountEntry,
    pub backend: Arc<dyn LogicalBackend>,
    pub storage: StorageView,
}

/// Mounts ordered for longest-prefix matching.
#[derive(Clone, Default)]
pub struct Router {
    mounts: Vec<Mounted>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a mount (the caller has checked for conflicts).
    pub fn insert(&mut self, m: Mounted) {
        self.mounts.push(m);
        self.mounts
            .sort_by_key(|m| std::cmp::Reverse(m.entry.path.len()));
    }

    /// Removes the mount at exactly `path`.
    pub fn remove(&mut self, path: &str) -> Option<Mounted> {
        let i = self.mounts.iter().position(|m| m.entry.path == path)?;
        Some(self.mounts.remove(i))
    }

    /// The mount serving `path` and the path relative to it.
    pub fn route<'a>(&self, path: &'a str) -> Option<(&Mounted, &'a str)> {
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
    pub fn get(&self, path: &str) -> Option<&Mounted> {
        self.mounts.iter().find(|m| m.entry.path == path)
    }

    /// Whether `path` would overlap an existing mount (one a prefix of the other).
    pub fn conflicts(&self, path: &str) -> bool {
        self.mounts
            .iter()
            .any(|m| m.entry.path.starts_with(path) || path.starts_with(m.entry.path.as_str()))
    }

    pub fn all(&self) -> &[Mounted] {
        &self.mounts
    }
}

/// A persisted, routable set of mounts (secrets engines, or auth methods
/// under `auth/`). Changes are serialised by [`MountSet::lock`].
pub struct MountSet {
    router: std::sync::RwLock<Router>,
    table: MountTable,
    lock: std::sync::Mutex<()>,
    /// "" for secrets engines, "auth/" for auth methods.
    pub prefix: &'static str,
}

/// Creates the engine for a mount type (None: unknown type).
pub type BackendFactory = fn(&str) -> Option<Arc<dyn LogicalBackend>>;

impl MountSet {
    /// Loads the table (adding any missing `defaults`) and builds the router.
    pub fn load(
        table: MountTable,
        prefix: &'static str,
        defaults: Vec<MountEntry>,
        factory: BackendFactory,
        view_of: &dyn Fn(&str) -> StorageView,
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
            let backend = factory(&entry.kind)
                .ok_or_else(|| MountTableError::UnknownType(entry.kind.clone()))?;
            let storage = view_of(&entry.uuid);
            router.insert(Mounted {
                entry,
                backend,
                storage,
            });
        }
        Ok(MountSet {
            router: std::sync::RwLock::new(router),
            table,
            lock: std::sync::Mutex::new(()),
            prefix,
        })
    }

    /// A snapshot of the router.
    pub fn snapshot(&self) -> Router {
        self.router
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Serialises changes to this set.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists `router`'s entries and makes it live.
    pub fn save(&self, router: Router) -> Result<(), crate::barrier::BarrierError> {
        let entries: Vec<MountEntry> = router.all().iter().map(|m| m.entry.clone()).collect();
        self.table.save(&entries)?;
        *self.router.write().unwrap_or_else(|p| p.into_inner()) = router;
        Ok(())
    }
}
