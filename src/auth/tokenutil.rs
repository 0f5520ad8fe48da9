//! The token settings every auth method stores on its roles or users
//! (Vault's `tokenutil`): `token_policies`, `token_ttl`, `token_max_ttl`,
//! `token_explicit_max_ttl`, `token_period`, `token_num_uses`,
//! `token_bound_cidrs`, `token_no_default_policy`, `token_type`, with the
//! legacy names each method still accepts (`policies`, `period`, …).
//!
//! Owns: parsing and validating those fields, showing them, and turning
//! them into the [`LoginAuth`] the core issues a token from.
//! Must not touch: storage, the token store, HTTP.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::cidr::parse_cidrs;
use crate::logical::{fields, LogicalError, LoginAuth};
use crate::sdk::route::{Field, FieldType};

/// The schema of the token settings (their current names), for the routes
/// of roles and users that carry them.
pub const TOKEN_FIELDS: &[Field] = &[
    Field::new("token_policies", FieldType::StringList),
    Field::new("token_bound_cidrs", FieldType::StringList),
    Field::new("token_ttl", FieldType::Duration),
    Field::new("token_max_ttl", FieldType::Duration),
    Field::new("token_explicit_max_ttl", FieldType::Duration),
    Field::new("token_period", FieldType::Duration),
    Field::new("token_num_uses", FieldType::Int),
    Field::new("token_no_default_policy", FieldType::Bool),
    Field::new("token_type", FieldType::String),
];

/// Token settings of a role or user.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenFields {
    #[serde(default)]
    pub token_policies: Vec<String>,
    #[serde(default)]
    pub token_ttl: u64,
    #[serde(default)]
    pub token_max_ttl: u64,
    #[serde(default)]
    pub token_explicit_max_ttl: u64,
    #[serde(default)]
    pub token_period: u64,
    #[serde(default)]
    pub token_num_uses: u64,
    #[serde(default)]
    pub token_bound_cidrs: Vec<String>,
    #[serde(default)]
    pub token_no_default_policy: bool,
    #[serde(default)]
    pub token_type: String,
    /// The legacy names (`policies`, `period`, ...) the fields were last
    /// set through: Vault's reads show a deprecated field only then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legacy_names: Vec<String>,
}

/// A legacy field name and the `token_*` field it stands for.
pub type Alias = (&'static str, &'static str);

/// The value of `field`, else of its legacy alias (the new name wins).
fn pick<'a>(data: &'a Map<String, Value>, field: &'a str, aliases: &[Alias]) -> Option<&'a str> {
    if data.get(field).is_some_and(|v| !v.is_null()) {
        return Some(field);
    }
    aliases
        .iter()
        .find(|(legacy, new)| *new == field && data.get(*legacy).is_some_and(|v| !v.is_null()))
        .map(|(legacy, _)| *legacy)
}

/// Lower-cased, trimmed, sorted, de-duplicated policy names.
pub fn sanitize_policies(policies: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = policies
        .into_iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Parses a CIDR list field, keeping the text as given (400 if invalid).
pub fn cidr_list(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, LogicalError> {
    let Some(items) = fields::opt_string_list(data, field)? else {
        return Ok(None);
    };
    let items: Vec<String> = items.into_iter().map(|s| s.trim().to_string()).collect();
    parse_cidrs(&items).map_err(|e| LogicalError::BadRequest(format!("field \"{field}\": {e}")))?;
    Ok(Some(items))
}

/// Whether every block of `inner` lies inside some block of `outer`
/// (always true when `outer` is empty: no restriction to stay within).
pub fn cidrs_subset(inner: &[String], outer: &[String]) -> bool {
    if outer.is_empty() {
        return true;
    }
    let (Ok(inner), Ok(outer)) = (parse_cidrs(inner), parse_cidrs(outer)) else {
        return false;
    };
    inner.iter().all(|i| outer.iter().any(|o| o.contains(i)))
}

impl TokenFields {
    /// Applies the fields present in `data` (and their `aliases`); on an
    /// error nothing is changed.
    pub fn update(
        &mut self,
        data: &Map<String, Value>,
        aliases: &[Alias],
    ) -> Result<(), LogicalError> {
        let mut next = self.clone();
        next.apply(data, aliases)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    fn apply(&mut self, data: &Map<String, Value>, aliases: &[Alias]) -> Result<(), LogicalError> {
        for (legacy, new) in aliases {
            match pick(data, new, aliases) {
                Some(f) if f == *legacy && !self.legacy_names.iter().any(|n| n == legacy) => {
                    self.legacy_names.push(legacy.to_string());
                }
                Some(f) if f == *legacy => {}
                Some(_) => self.legacy_names.retain(|n| n != legacy),
                None => {}
            }
        }
        if let Some(f) = pick(data, "token_policies", aliases) {
            self.token_policies =
                sanitize_policies(fields::opt_string_list(data, f)?.unwrap_or_default());
        }
        if let Some(f) = pick(data, "token_bound_cidrs", aliases) {
            self.token_bound_cidrs = cidr_list(data, f)?.unwrap_or_default();
        }
        let durations: [(&str, &mut u64); 4] = [
            ("token_ttl", &mut self.token_ttl),
            ("token_max_ttl", &mut self.token_max_ttl),
            ("token_explicit_max_ttl", &mut self.token_explicit_max_ttl),
            ("token_period", &mut self.token_period),
        ];
        for (name, slot) in durations {
            if let Some(f) = pick(data, name, aliases) {
                *slot = fields::opt_duration(data, f)?.unwrap_or(0);
            }
        }
        if let Some(n) = fields::opt_u64(data, "token_num_uses")? {
            self.token_num_uses = n;
        }
        if let Some(b) = fields::opt_bool(data, "token_no_default_policy")? {
            self.token_no_default_policy = b;
        }
        if let Some(t) = fields::opt_string(data, "token_type")? {
            self.token_type = check_token_type(&t)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), LogicalError> {
        if self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return Err(LogicalError::BadRequest(
                "\"token_ttl\" cannot be greater than \"token_max_ttl\"".into(),
            ));
        }
        Ok(())
    }

    /// Adds the `token_*` fields to a read response.
    pub fn populate(&self, out: &mut Map<String, Value>) {
        out.insert(
            "token_policies".into(),
            Value::from(self.token_policies.clone()),
        );
        out.insert("token_ttl".into(), Value::from(self.token_ttl));
        out.insert("token_max_ttl".into(), Value::from(self.token_max_ttl));
        out.insert(
            "token_explicit_max_ttl".into(),
            Value::from(self.token_explicit_max_ttl),
        );
        out.insert("token_period".into(), Value::from(self.token_period));
        out.insert("token_num_uses".into(), Value::from(self.token_num_uses));
        out.insert(
            "token_bound_cidrs".into(),
            Value::from(self.token_bound_cidrs.clone()),
        );
        out.insert(
            "token_no_default_policy".into(),
            Value::from(self.token_no_default_policy),
        );
        let kind = if self.token_type.is_empty() {
            "default"
        } else {
            self.token_type.as_str()
        };
        out.insert("token_type".into(), Value::from(kind));
    }

    /// Adds the deprecated fields a read shows, as Vault: each legacy
    /// name the value was last set through, when the value is set (not
    /// zero, not empty), with the value of its `token_*` field (call after
    /// [`Self::populate`]).
    pub fn populate_legacy(&self, out: &mut Map<String, Value>, aliases: &[Alias]) {
        for (legacy, new) in aliases {
            if !self.legacy_names.iter().any(|n| n == legacy) {
                continue;
            }
            let Some(v) = out.get(*new).cloned() else {
                continue;
            };
            let set = match &v {
                Value::Number(n) => n.as_u64() != Some(0),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
            if set {
                out.insert(legacy.to_string(), v);
            }
        }
    }

    /// What the core should issue for a login with these settings.
    pub fn login_auth(&self) -> LoginAuth {
        let max_ttl = match (self.token_max_ttl, self.token_explicit_max_ttl) {
            (0, e) => e,
            (m, 0) => m,
            (m, e) => m.min(e),
        };
        LoginAuth {
            policies: self.token_policies.clone(),
            ttl: self.token_ttl,
            max_ttl,
            period: self.token_period,
            num_uses: self.token_num_uses,
            bound_cidrs: self.token_bound_cidrs.clone(),
            no_default_policy: self.token_no_default_policy,
            ..LoginAuth::default()
        }
    }
}

/// Only service tokens exist in vault-rs.
fn check_token_type(t: &str) -> Result<String, LogicalError> {
    match t {
        "" | "default" | "service" | "default-service" => Ok(t.to_string()),
        "batch" | "default-batch" => Err(LogicalError::BadRequest(
            "batch tokens are not supported by vault-rs; use \"service\"".into(),
        )),
        other => Err(LogicalError::BadRequest(format!(
            "invalid \"token_type\" value \"{other}\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn new_names_win_over_legacy_ones() {
        let mut t = TokenFields::default();
        let aliases = [("policies", "token_policies"), ("period", "token_period")];
        t.update(
            &m(json!({"policies": "B,a", "token_policies": ["x"], "period": "1m"})),
            &aliases,
        )
        .unwrap();
        assert_eq!(t.token_policies, vec!["x"]);
        assert_eq!(t.token_period, 60);
        t.update(&m(json!({"policies": "B, a,a"})), &aliases)
            .unwrap();
        assert_eq!(t.token_policies, vec!["a", "b"]);
    }

    #[test]
    fn validation() {
        let mut t = TokenFields::default();
        assert!(t
            .update(&m(json!({"token_ttl": "2h", "token_max_ttl": "1h"})), &[])
            .is_err());
        assert!(t
            .update(&m(json!({"token_bound_cidrs": ["nope"]})), &[])
            .is_err());
        assert!(t.update(&m(json!({"token_type": "batch"})), &[]).is_err());
        assert!(t
            .update(
                &m(json!({"token_bound_cidrs": "10.0.0.0/8, 127.0.0.1"})),
                &[]
            )
            .is_ok());
        assert_eq!(t.token_bound_cidrs, vec!["10.0.0.0/8", "127.0.0.1"]);
    }

    #[test]
    fn subsets_and_login() {
        let outer = vec!["10.0.0.0/8".to_string()];
        assert!(cidrs_subset(&["10.1.0.0/16".into()], &outer));
        assert!(!cidrs_subset(&["11.0.0.0/16".into()], &outer));
        assert!(cidrs_subset(&["11.0.0.0/16".into()], &[]));
        let t = TokenFields {
            token_max_ttl: 100,
            token_explicit_max_ttl: 50,
            ..TokenFields::default()
        };
        assert_eq!(t.login_auth().max_ttl, 50);
        let mut out = Map::new();
        t.populate(&mut out);
        assert_eq!(out["token_type"], json!("default"));
    }
}
