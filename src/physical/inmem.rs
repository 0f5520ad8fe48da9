//! In-memory backend for tests and `server --dev`. Not durable by design.

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::{next_child, Backend, PhysicalError, TxnOp};

/// A sorted map behind a lock.
#[derive(Default)]
pub struct InmemBackend {
    map: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl InmemBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    fn keys_under(&self, prefix: &str) -> Vec<String> {
        self.read()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

impl Backend for InmemBackend {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PhysicalError> {
        Ok(self.read().get(key).cloned())
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), PhysicalError> {
        self.write().insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), PhysicalError> {
        self.write().remove(key);
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        let map = self.read();
        let mut out = Vec::new();
        let mut cursor = prefix.to_string();
        while let Some((key, _)) = map.range(cursor.clone()..).next() {
            let Some((child, next)) = next_child(prefix, key) else {
                break;
            };
            out.push(child);
            cursor = next;
        }
        Ok(out)
    }

    fn scan(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        Ok(self.keys_under(prefix))
    }

    fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError> {
        let mut map = self.write();
        for op in ops {
            match op {
                TxnOp::Put(k, v) => {
                    map.insert(k, v);
                }
                TxnOp::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), PhysicalError> {
        Ok(())
    }

    fn export(&self) -> Result<Vec<(String, Vec<u8>)>, PhysicalError> {
        Ok(self
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn kind(&self) -> &'static str {
        "inmem"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn conformance() {
        super::super::testing::run_all(&|| Box::new(super::InmemBackend::new()));
    }
}
