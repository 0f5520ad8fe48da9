//! Roles of the identity engine: which named key signs a role's tokens,
//! their TTL, the audience (`client_id`) and an optional claims template.
//!
//! Owns: the `oidc/role/<name>` entries of the identity mount's storage
//! view, template validation and rendering. Must not touch key entries
//! (callers check a role's key), other mounts, tokens or HTTP.
//!
//! Templates are JSON objects whose string values may hold placeholders:
//! `{{identity.token.policies}}` (a list), `{{identity.token.metadata}}`
//! (an object), `{{identity.token.metadata.<key>}}`,
//! `{{identity.token.accessor}}` and `{{identity.token.display_name}}`
//! (strings). A value that is exactly one placeholder becomes that value
//! (a missing metadata key drops the claim); placeholders inside longer
//! strings are interpolated as text. Templates cannot set the reserved
//! claims.
//!
//! `identity.token.metadata` is the metadata the token's auth method set
//! at login (userpass: `username`; approle: `role_name` and the secret id's
//! metadata, which only a holder of the role's `secret-id` path sets). A
//! token made through `auth/token/create` has none here: its creator chose
//! its metadata, and a claim a receiver trusts must not come from the
//! caller. (Vault templates read `identity.entity.*`, data an operator or
//! auth method set, for the same reason.)

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::barrier::StorageView;
use crate::logical::{Caller, LogicalError};

/// Storage prefix of roles.
pub const ROLE_PREFIX: &str = "oidc/role/";

/// Claims vault-rs sets itself; a template must not.
pub const RESERVED_CLAIMS: [&str; 8] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "namespace",
];

/// A role.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Role {
    pub key: String,
    pub ttl: u64,
    pub client_id: String,
    /// The template as given (JSON text; "" for none).
    #[serde(default)]
    pub template: String,
    /// The scopes an OAuth2 client may ask for in a client-credentials
    /// grant (`identity/oidc/token`) with this role.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl Role {
    /// The role's settings, for GET.
    pub fn describe(&self) -> Map<String, Value> {
        json!({
            "key": self.key,
            "ttl": self.ttl,
            "client_id": self.client_id,
            "template": self.template,
            "scopes": self.scopes,
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }
}

fn path_of(name: &str) -> String {
    format!("{ROLE_PREFIX}{name}")
}

pub fn load(storage: &StorageView, name: &str) -> Result<Option<Role>, LogicalError> {
    Ok(storage.get_json(&path_of(name))?)
}

pub fn save(storage: &StorageView, name: &str, role: &Role) -> Result<(), LogicalError> {
    Ok(storage.put_json(&path_of(name), role)?)
}

pub fn delete(storage: &StorageView, name: &str) -> Result<(), LogicalError> {
    Ok(storage.delete(&path_of(name))?)
}

pub fn names(storage: &StorageView) -> Result<Vec<String>, LogicalError> {
    Ok(storage
        .list(ROLE_PREFIX)?
        .into_iter()
        .filter(|k| !k.ends_with('/'))
        .collect())
}

/// Every role, by name.
pub fn all(storage: &StorageView) -> Result<Vec<(String, Role)>, LogicalError> {
    let mut out = Vec::new();
    for name in names(storage)? {
        if let Some(r) = load(storage, &name)? {
            out.push((name, r));
        }
    }
    Ok(out)
}

/// A fresh random client id (26 base62 characters, like Vault's length).
pub fn new_client_id() -> String {
    crate::crypto::random_base62(26)
}

/// Normalises a template given as JSON text or an object to JSON text
/// ("" for none) after checking it parses, names no reserved claim and
/// uses only known placeholders.
pub fn normalize_template(value: Option<&Value>) -> Result<String, LogicalError> {
    let obj = match value {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(String::new()),
        Some(Value::String(s)) => match parse_template_text(s) {
            Some(m) => m,
            None => return Err(bad("template must be a JSON object (or its base64)")),
        },
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad("template must be a JSON object")),
    };
    if let Some(k) = obj.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(bad(&format!(
            "template cannot set the reserved claim \"{k}\""
        )));
    }
    check_placeholders(&Value::Object(obj.clone()))?;
    Ok(Value::Object(obj).to_string())
}

/// A template given as JSON text or, as Vault accepts, base64 of it.
fn parse_template_text(s: &str) -> Option<Map<String, Value>> {
    use base64::Engine;
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(s) {
        return Some(m);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn bad(msg: &str) -> LogicalError {
    LogicalError::BadRequest(msg.into())
}

fn check_placeholders(v: &Value) -> Result<(), LogicalError> {
    match v {
        Value::String(s) => {
            for name in placeholders(s)? {
                if !known(name) {
                    return Err(bad(&format!(
                        "template: unknown placeholder \"{{{{{name}}}}}\""
                    )));
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_placeholders),
        Value::Object(m) => m.values().try_for_each(check_placeholders),
        _ => Ok(()),
    }
}

fn known(name: &str) -> bool {
    matches!(
        name,
        "identity.token.policies"
            | "identity.token.metadata"
            | "identity.token.accessor"
            | "identity.token.display_name"
    ) || name
        .strip_prefix("identity.token.metadata.")
        .is_some_and(|k| !k.is_empty())
}

/// The placeholder names in `s`, in order (a `{{` without `}}` is a 400).
fn placeholders(s: &str) -> Result<Vec<&str>, LogicalError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(bad("template: unterminated placeholder"));
        };
        out.push(after[..j].trim());
        rest = &after[j + 2..];
    }
    Ok(out)
}

/// The value of a placeholder for `caller` (None: a missing metadata key).
fn resolve(name: &str, caller: &Caller) -> Option<Value> {
    match name {
        "identity.token.policies" => Some(json!(caller.policies)),
        "identity.token.metadata" => Some(Value::Object(caller.metadata.clone())),
        "identity.token.accessor" => Some(json!(caller.accessor)),
        "identity.token.display_name" => Some(json!(caller.display_name)),
        other => other
            .strip_prefix("identity.token.metadata.")
            .and_then(|k| caller.metadata.get(k).cloned()),
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders one template value (None: drop the claim).
fn render_value(v: &Value, caller: &Caller) -> Option<Value> {
    match v {
        Value::String(s) => {
            let names = placeholders(s).ok()?;
            if names.is_empty() {
                return Some(v.clone());
            }
            let t = s.trim();
            if names.len() == 1
                && t.starts_with("{{")
                && t.ends_with("}}")
                && t.matches("{{").count() == 1
            {
                return resolve(names[0], caller);
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("{{") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let j = after.find("}}")?;
                if let Some(val) = resolve(after[..j].trim(), caller) {
                    out.push_str(&as_text(&val));
                }
                rest = &after[j + 2..];
            }
            out.push_str(rest);
            Some(Value::String(out))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|i| render_value(i, caller))
                .collect(),
        )),
        Value::Object(m) => Some(Value::Object(
            m.iter()
                .filter_map(|(k, v)| render_value(v, caller).map(|v| (k.clone(), v)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// The claims a role's template adds for `caller` (empty without one).
pub fn render(template: &str, caller: &Caller) -> Map<String, Value> {
    if template.is_empty() {
        return Map::new();
    }
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(template) else {
        return Map::new();
    };
    m.iter()
        .filter(|(k, _)| !RESERVED_CLAIMS.contains(&k.as_str()))
        .filter_map(|(k, v)| render_value(v, caller).map(|v| (k.clone(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            accessor: "acc".into(),
            policies: vec!["default".into(), "svc".into()],
            display_name: "token-svc".into(),
            metadata: json!({"team": "blue"}).as_object().cloned().unwrap(),
            ..Caller::default()
        }
    }

    #[test]
    fn templates_render_policies_and_metadata() {
        let t = normalize_template(Some(&json!({
            "groups": "{{identity.token.policies}}",
            "meta": "{{identity.token.metadata}}",
            "team": "{{identity.token.metadata.team}}",
            "gone": "{{identity.token.metadata.nope}}",
            "who": "svc:{{identity.token.accessor}}",
            "nested": {"n": 1, "p": ["{{ identity.token.display_name }}"]},
        })))
        .unwrap();
        let c = render(&t, &caller());
        assert_eq!(c["groups"], json!(["default", "svc"]));
        assert_eq!(c["meta"], json!({"team": "blue"}));
        assert_eq!(c["team"], "blue");
        assert!(!c.contains_key("gone"));
        assert_eq!(c["who"], "svc:acc");
        assert_eq!(c["nested"], json!({"n": 1, "p": ["token-svc"]}));
    }

    #[test]
    fn templates_are_checked() {
        assert_eq!(normalize_template(None).unwrap(), "");
        assert!(normalize_template(Some(&json!("not json"))).is_err());
        assert!(normalize_template(Some(&json!([1]))).is_err());
        assert!(normalize_template(Some(&json!({"aud": "x"}))).is_err());
        assert!(normalize_template(Some(&json!({"x": "{{identity.entity.id}}"}))).is_err());
        assert!(normalize_template(Some(&json!({"x": "{{identity.token.policies"}))).is_err());
        let t = normalize_template(Some(&json!(r#"{"p":"{{identity.token.policies}}"}"#))).unwrap();
        let b64 = "eyJwIjoie3tpZGVudGl0eS50b2tlbi5wb2xpY2llc319In0=";
        assert_eq!(normalize_template(Some(&json!(b64))).unwrap(), t);
        assert_eq!(render(&t, &caller())["p"], json!(["default", "svc"]));
    }
}
