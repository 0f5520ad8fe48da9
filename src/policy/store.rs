//! Stored ACL policies and the cache of compiled ACLs per policy set.
//!
//! Policies live in the core view under `policy/<name>` as their raw text.
//! `root` is built in and never stored; `default` is created on first use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{
    default_policy_text, normalize_name, parse, Acl, Policy, PolicyError, DEFAULT_POLICY,
    ROOT_POLICY,
};
use crate::barrier::{BarrierError, StorageView};

pub struct PolicyStore {
    view: StorageView,
    policies: RwLock<HashMap<String, Arc<Policy>>>,
    acls: RwLock<HashMap<String, Arc<Acl>>>,
    /// Cache fills hold it shared, policy writes exclusively: a cache fill
    /// that read old text can never land after the write that replaced it.
    gate: RwLock<()>,
}

/// Failure to read or write a policy.
#[derive(Debug)]
pub enum PolicyStoreError {
    Policy(PolicyError),
    Storage(BarrierError),
}

impl From<PolicyError> for PolicyStoreError {
    fn from(e: PolicyError) -> Self {
        PolicyStoreError::Policy(e)
    }
}

impl From<BarrierError> for PolicyStoreError {
    fn from(e: BarrierError) -> Self {
        PolicyStoreError::Storage(e)
    }
}

impl PolicyStore {
    /// Opens the store and makes sure `default` exists.
    pub fn open(view: StorageView) -> Result<PolicyStore, PolicyStoreError> {
        let store = PolicyStore {
            view,
            policies: RwLock::new(HashMap::new()),
            acls: RwLock::new(HashMap::new()),
            gate: RwLock::new(()),
        };
        if store.view.get(&key(DEFAULT_POLICY))?.is_none() {
            store.set(DEFAULT_POLICY, default_policy_text())?;
        }
        Ok(store)
    }

    /// The policy `name`, if it exists (`root` exists and has no rules).
    pub fn get(&self, name: &str) -> Result<Option<Arc<Policy>>, PolicyStoreError> {
        let _fill = self.gate.read().unwrap_or_else(|p| p.into_inner());
        self.get_filling(name)
    }

    /// [`PolicyStore::get`] for a caller holding the gate shared.
    fn get_filling(&self, name: &str) -> Result<Option<Arc<Policy>>, PolicyStoreError> {
        if name == ROOT_POLICY {
            return Ok(Some(Arc::new(Policy {
                name: ROOT_POLICY.into(),
                raw: String::new(),
                rules: Vec::new(),
            })));
        }
        if let Some(p) = self
            .policies
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(Some(p.clone()));
        }
        let Some(raw) = self.view.get(&key(name))? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(&raw).map_err(|_| BarrierError::Corrupt("policy"))?;
        let p = Arc::new(parse(name, text)?);
        self.policies
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), p.clone());
        Ok(Some(p))
    }

    /// Creates or replaces `name` with `text` after validating it.
    pub fn set(&self, name: &str, text: &str) -> Result<(), PolicyStoreError> {
        let name = normalize_name(name)?;
        if name == ROOT_POLICY {
            return Err(PolicyError::Invalid("cannot update the root policy".into()).into());
        }
        let p = parse(&name, text)?;
        let _write = self.gate.write().unwrap_or_else(|p| p.into_inner());
        self.view.put(&key(&name), text.as_bytes())?;
        self.policies
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, Arc::new(p));
        self.acls.write().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(())
    }

    /// Deletes `name` (`root` and `default` cannot be deleted).
    pub fn delete(&self, name: &str) -> Result<(), PolicyStoreError> {
        let name = normalize_name(name)?;
        if name == ROOT_POLICY || name == DEFAULT_POLICY {
            return Err(PolicyError::Invalid(format!("cannot delete the {name} policy")).into());
        }
        let _write = self.gate.write().unwrap_or_else(|p| p.into_inner());
        self.view.delete(&key(&name))?;
        self.policies
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&name);
        self.acls.write().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(())
    }

    /// Every policy name, with `root`.
    pub fn list(&self) -> Result<Vec<String>, PolicyStoreError> {
        let mut names = self.view.list("policy/")?;
        names.push(ROOT_POLICY.to_string());
        names.sort();
        Ok(names)
    }

    /// The compiled ACL of a policy set (cached per distinct set). Unknown
    /// policy names grant nothing, as in Vault.
    pub fn acl(&self, names: &[String]) -> Result<Arc<Acl>, PolicyStoreError> {
        let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let cache_key = sorted.join("\n");
        if let Some(a) = self
            .acls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
        {
            return Ok(a.clone());
        }
        let _fill = self.gate.read().unwrap_or_else(|p| p.into_inner());
        let mut policies = Vec::with_capacity(sorted.len());
        for name in sorted {
            if let Some(p) = self.get_filling(name)? {
                policies.push(p);
            }
        }
        let acl = Arc::new(Acl::new(&policies));
        self.acls
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cache_key, acl.clone());
        Ok(acl)
    }
}

fn key(name: &str) -> String {
    format!("policy/{name}")
}
