//! The `cubbyhole` secrets engine: per-token private storage, mounted at
//! `cubbyhole/` and not removable.
//!
//! Owns: the layout of the cubbyhole view — every entry lives at
//! `<token_key>/<path>`, where `token_key` is the calling token's stable,
//! secret-free id ([`Caller::token_key`]). A request only ever sees its own
//! token's folder, so no other token (root included) can read, list or
//! overwrite it. [`destroy_for_token`] removes a token's folder when the
//! token is revoked or expires. Must not touch anything outside the view.
//!
//! Otherwise it behaves like KV version 1: GET/POST/PUT/DELETE/LIST, data
//! stored as given.

use serde_json::{Map, Value};

use crate::barrier::StorageView;
use crate::logical::{matched, Caller, LogicalBackend, LogicalError, LogicalRequest};
use crate::sdk::MountPoint;
use crate::sdk::{Operation, Response, Route};

/// One route, as KV version 1: any path is an entry or a folder.
const ROUTES: &[Route] = &[Route::new(
    ":path*",
    &[
        Operation::Read,
        Operation::List,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
    ],
)];

/// The cubbyhole engine.
#[derive(Default)]
pub struct CubbyholeBackend;

/// The calling token's folder ("<token_key>/").
fn folder_of(token_key: &str) -> Result<String, LogicalError> {
    if token_key.is_empty() || token_key.contains('/') || token_key == "." || token_key == ".." {
        return Err(LogicalError::PermissionDenied);
    }
    Ok(format!("{token_key}/"))
}

fn caller_folder(caller: &Caller) -> Result<String, LogicalError> {
    folder_of(&caller.token_key)
}

/// The storage path of a secret, after checking the path names one.
fn entry_path(req: &LogicalRequest<'_>) -> Result<String, LogicalError> {
    if req.path.is_empty() {
        return Err(LogicalError::BadRequest("missing path".into()));
    }
    if req.path.ends_with('/') {
        return Err(LogicalError::BadRequest(
            "path must not end with '/'".into(),
        ));
    }
    Ok(format!("{}{}", caller_folder(req.caller)?, req.path))
}

impl LogicalBackend for CubbyholeBackend {
    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        matched(ROUTES, req)?;
        match req.operation {
            Operation::Read => read(req),
            Operation::List => list(req),
            Operation::Create | Operation::Update => write(req),
            Operation::Delete => delete(req),
            Operation::Patch => Err(LogicalError::UnsupportedOperation),
        }
    }

    fn routes(&self, _mount: MountPoint<'_>) -> &'static [Route] {
        ROUTES
    }

    fn exists(&self, req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
        if req.path.is_empty() || req.path.ends_with('/') {
            return Ok(Some(false));
        }
        Ok(Some(req.storage.get(&entry_path(req)?)?.is_some()))
    }
}

fn read(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    match req
        .storage
        .get_json::<Map<String, Value>>(&entry_path(req)?)?
    {
        Some(data) => Ok(Response::data(data)),
        None => Err(LogicalError::NotFound),
    }
}

fn list(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let mut prefix = caller_folder(req.caller)?;
    if !req.path.is_empty() {
        prefix.push_str(req.path);
        if !req.path.ends_with('/') {
            prefix.push('/');
        }
    }
    let keys = req.storage.list(&prefix)?;
    if keys.is_empty() {
        return Err(LogicalError::NotFound);
    }
    Ok(Response::list(keys))
}

fn write(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let path = entry_path(req)?;
    if req.data.is_empty() {
        return Err(LogicalError::BadRequest("missing data fields".into()));
    }
    req.storage.put_json(&path, req.data)?;
    Ok(Response::empty())
}

fn delete(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    req.storage.delete(&entry_path(req)?)?;
    Ok(Response::empty())
}

/// Destroys the cubbyhole of the token whose storage id is `token_key`
/// (every entry, in one transaction). Call it when the token is revoked or
/// expires; a token without a cubbyhole is fine.
pub fn destroy_for_token(storage: &StorageView, token_key: &str) -> Result<(), LogicalError> {
    let folder = folder_of(token_key).map_err(|_| {
        LogicalError::BadRequest("invalid token id for cubbyhole destruction".into())
    })?;
    let ops: Vec<(String, Option<Vec<u8>>)> = storage
        .scan(&folder)?
        .into_iter()
        .map(|p| (p, None))
        .collect();
    if ops.is_empty() {
        return Ok(());
    }
    storage.transaction(ops)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::barrier::Barrier;
    use crate::physical::InmemBackend;
    use crate::sdk::MountPoint;
    use crate::seal::{new_unseal_key, SealConfig};

    fn view() -> StorageView {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        barrier
            .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
            .unwrap();
        barrier.view("cubby")
    }

    fn caller(key: &str) -> Caller {
        Caller {
            token_key: key.into(),
            ..Caller::default()
        }
    }

    fn call(
        s: &StorageView,
        who: &str,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, LogicalError> {
        let options = Map::new();
        let data = data.as_object().cloned().unwrap_or_default();
        let c = caller(who);
        let req = LogicalRequest {
            operation: op,
            path,
            data: &data,
            storage: s,
            mount: MountPoint::new("cubbyhole/", "cubbyhole", &options),
            caller: &c,
            clock: &crate::sdk::SystemClock,
        };
        CubbyholeBackend.handle(&req)
    }

    #[test]
    fn tokens_see_only_their_own_cubbyhole() {
        let s = view();
        call(&s, "aaa", Operation::Update, "app/x", json!({"v": 1})).unwrap();
        let r = call(&s, "aaa", Operation::Read, "app/x", json!({})).unwrap();
        assert_eq!(r.data.unwrap()["v"], 1);
        assert!(matches!(
            call(&s, "bbb", Operation::Read, "app/x", json!({})),
            Err(LogicalError::NotFound)
        ));
        assert!(matches!(
            call(&s, "bbb", Operation::List, "", json!({})),
            Err(LogicalError::NotFound)
        ));
        let keys = call(&s, "aaa", Operation::List, "", json!({})).unwrap();
        assert_eq!(keys.data.unwrap()["keys"], json!(["app/"]));
        let keys = call(&s, "aaa", Operation::List, "app", json!({})).unwrap();
        assert_eq!(keys.data.unwrap()["keys"], json!(["x"]));
        // an empty token id is never served
        assert!(matches!(
            call(&s, "", Operation::Read, "app/x", json!({})),
            Err(LogicalError::PermissionDenied)
        ));
    }

    #[test]
    fn destroy_removes_one_tokens_entries() {
        let s = view();
        call(&s, "aaa", Operation::Update, "a", json!({"v": 1})).unwrap();
        call(&s, "aaa", Operation::Update, "b/c", json!({"v": 2})).unwrap();
        call(&s, "bbb", Operation::Update, "a", json!({"v": 3})).unwrap();
        destroy_for_token(&s, "aaa").unwrap();
        destroy_for_token(&s, "never-had-one").unwrap();
        assert!(s.scan("aaa/").unwrap().is_empty());
        let r = call(&s, "bbb", Operation::Read, "a", json!({})).unwrap();
        assert_eq!(r.data.unwrap()["v"], 3);
        assert!(destroy_for_token(&s, "").is_err());
        assert!(destroy_for_token(&s, "a/b").is_err());
    }

    #[test]
    fn writes_need_data_and_a_path() {
        let s = view();
        assert!(call(&s, "aaa", Operation::Update, "x", json!({})).is_err());
        assert!(call(&s, "aaa", Operation::Update, "", json!({"v": 1})).is_err());
        assert!(call(&s, "aaa", Operation::Update, "x/", json!({"v": 1})).is_err());
        call(&s, "aaa", Operation::Update, "x", json!({"v": 1})).unwrap();
        call(&s, "aaa", Operation::Delete, "x", json!({})).unwrap();
        assert!(call(&s, "aaa", Operation::Read, "x", json!({})).is_err());
    }
}
