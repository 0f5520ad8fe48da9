//! Stored ACL policies and the cache of compiled ACLs per policy set.
//!
//! Policies live in the core view under `policy/<name>` as their raw text.
//! `root` is built in and never stored; `default` is created on first use;
//! `root` and `response-wrapping` (the policy of wrapping tokens) can never
//! be written. Names arrive canonical (the request pipeline folds policy
//! names before the ACL check); the store refuses any other spelling rather
//! than folding it again.

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
    /// A built-in policy that cannot be written or deleted (Vault's message).
    Immutable(String),
}

impl std::fmt::Display for PolicyStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyStoreError::Policy(e) => e.fmt(f),
            PolicyStoreError::Storage(e) => e.fmt(f),
            PolicyStoreError::Immutable(m) => f.write_str(m),
        }
    }
}

/// The policy of response-wrapping tokens (the token store's `WRAPPING_POLICY` is this name).
pub const RESPONSE_WRAPPING_POLICY: &str = "response-wrapping";

/// Policies no one may write: `root` is built in, and `response-wrapping`
/// is what every wrapping token holds (anyone may mint one), so a stored
/// policy of that name would grant its rules to everyone.
const IMMUTABLE: [&str; 2] = [ROOT_POLICY, RESPONSE_WRAPPING_POLICY];

/// Checks that `name` is a valid policy name in canonical form (lower case,
/// no surrounding whitespace), as the pipeline produces it.
pub fn check_canonical_name(name: &str) -> Result<(), PolicyError> {
    if normalize_name(name)? != name {
        return Err(PolicyError::InvalidName(
            "policy names are lower case, without surrounding whitespace".into(),
        ));
    }
    Ok(())
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
        if name == RESPONSE_WRAPPING_POLICY {
            // Grants nothing (the wrapping endpoints need no ACL). A policy
            // stored under this name before it was reserved is ignored.
            return Ok(None);
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
        check_canonical_name(name)?;
        if IMMUTABLE.contains(&name) {
            return Err(PolicyStoreError::Immutable(format!(
                "cannot update {name:?} policy"
            )));
        }
        let name = name.to_string();
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
        check_canonical_name(name)?;
        if IMMUTABLE.contains(&name) || name == DEFAULT_POLICY {
            return Err(PolicyStoreError::Immutable(format!(
                "cannot delete {name:?} policy"
            )));
        }
        let name = name.to_string();
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
        names.retain(|n| n != RESPONSE_WRAPPING_POLICY);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::barrier::Barrier;
    use crate::physical::InmemBackend;

    fn store() -> PolicyStore {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        let key = crate::seal::new_unseal_key();
        let config = crate::seal::SealConfig::new(1, 1).unwrap();
        barrier.initialize(&key, &config).unwrap();
        barrier.unseal(&key).unwrap();
        PolicyStore::open(barrier.view("core")).unwrap()
    }

    const TEXT: &str = r#"path "secret/*" { capabilities = ["read"] }"#;

    #[test]
    fn reserved_names_cannot_be_written_or_deleted() {
        let s = store();
        for name in [ROOT_POLICY, RESPONSE_WRAPPING_POLICY] {
            match s.set(name, TEXT) {
                Err(PolicyStoreError::Immutable(m)) => {
                    assert_eq!(m, format!("cannot update {name:?} policy"))
                }
                other => panic!("{name}: {other:?}"),
            }
            assert!(matches!(
                s.delete(name),
                Err(PolicyStoreError::Immutable(_))
            ));
        }
        assert!(matches!(
            s.delete(DEFAULT_POLICY),
            Err(PolicyStoreError::Immutable(_))
        ));
        assert!(s.get(RESPONSE_WRAPPING_POLICY).unwrap().is_none());
    }

    #[test]
    fn a_stored_wrapping_policy_from_before_the_reservation_is_ignored() {
        let s = store();
        s.view
            .put(&key(RESPONSE_WRAPPING_POLICY), TEXT.as_bytes())
            .unwrap();
        assert!(s.get(RESPONSE_WRAPPING_POLICY).unwrap().is_none());
        assert!(!s
            .list()
            .unwrap()
            .contains(&RESPONSE_WRAPPING_POLICY.to_string()));
        let acl = s.acl(&[RESPONSE_WRAPPING_POLICY.to_string()]).unwrap();
        assert!(acl.capabilities("secret/x").is_empty());
    }

    #[test]
    fn names_must_arrive_canonical() {
        let s = store();
        s.set("ops", TEXT).unwrap();
        for bad in ["Ops", " ops", "ops ", "OPS"] {
            assert!(
                matches!(
                    s.set(bad, TEXT),
                    Err(PolicyStoreError::Policy(PolicyError::InvalidName(_)))
                ),
                "{bad:?}"
            );
            assert!(s.delete(bad).is_err(), "{bad:?}");
        }
        assert!(s.get("ops").unwrap().is_some());
        s.delete("ops").unwrap();
        assert!(s.get("ops").unwrap().is_none());
    }
}
