//! A storage view: one mount's (or one system component's) slice of the
//! barrier. A backend holding a view can reach nothing outside it.

use std::sync::Arc;

use super::{Barrier, BarrierError, Plaintext, WriteOp};

#[derive(Clone)]
pub struct StorageView {
    barrier: Arc<Barrier>,
    view: String,
}

impl std::fmt::Debug for StorageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StorageView({})", self.view)
    }
}

impl StorageView {
    pub(crate) fn new(barrier: Arc<Barrier>, view: &str) -> Self {
        StorageView {
            barrier,
            view: view.to_string(),
        }
    }

    /// The view id (mount UUID or system id).
    pub fn id(&self) -> &str {
        &self.view
    }

    /// The plaintext at `path`, wiped from memory when dropped.
    pub fn get(&self, path: &str) -> Result<Option<Plaintext>, BarrierError> {
        self.barrier.get(&self.view, path)
    }

    /// Reads and decodes a JSON value.
    pub fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, BarrierError> {
        match self.get(path)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|_| BarrierError::Corrupt("entry")),
        }
    }

    pub fn put(&self, path: &str, value: &[u8]) -> Result<(), BarrierError> {
        self.barrier.put(&self.view, path, value)
    }

    /// Encodes and stores a JSON value.
    pub fn put_json<T: serde::Serialize>(&self, path: &str, value: &T) -> Result<(), BarrierError> {
        let bytes = serde_json::to_vec(value).map_err(|_| BarrierError::Corrupt("entry"))?;
        self.put(path, &bytes)
    }

    pub fn delete(&self, path: &str) -> Result<(), BarrierError> {
        self.barrier.delete(&self.view, path)
    }

    /// One-level children of `prefix` ("" or ending in '/').
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.barrier.list(&self.view, prefix)
    }

    /// Every path under `prefix`, recursively.
    pub fn scan(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.barrier.scan(&self.view, prefix)
    }

    /// Atomic batch of puts/deletes within this view.
    pub fn transaction(&self, ops: Vec<(String, Option<Vec<u8>>)>) -> Result<(), BarrierError> {
        let ops = ops
            .into_iter()
            .map(|(path, value)| match value {
                Some(value) => WriteOp::Put {
                    view: self.view.clone(),
                    path,
                    value,
                },
                None => WriteOp::Delete {
                    view: self.view.clone(),
                    path,
                },
            })
            .collect();
        self.barrier.transaction(ops)
    }

    /// Deletes every entry of this view (used when a mount is disabled).
    pub fn clear(&self) -> Result<(), BarrierError> {
        let ops = self.scan("")?.into_iter().map(|p| (p, None)).collect();
        self.transaction(ops)
    }
}
