//! Typed access to request fields: every wrong type is a 400 that names the
//! field. Durations accept integer seconds or Go-style strings ("90s", "1h").

use serde_json::{Map, Value};

use super::LogicalError;

fn wrong_type(field: &str, expected: &str) -> LogicalError {
    LogicalError::BadRequest(format!("field \"{field}\" must be {expected}"))
}

/// An optional string field.
pub fn opt_string(data: &Map<String, Value>, field: &str) -> Result<Option<String>, LogicalError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(wrong_type(field, "a string")),
    }
}

/// A required, non-empty string field.
pub fn req_string(data: &Map<String, Value>, field: &str) -> Result<String, LogicalError> {
    match opt_string(data, field)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(LogicalError::BadRequest(format!(
            "missing required field \"{field}\""
        ))),
    }
}

/// An optional boolean (also strings in Go's `ParseBool` spellings, as
/// Vault's field parser; `""` is false).
pub fn opt_bool(data: &Map<String, Value>, field: &str) -> Result<Option<bool>, LogicalError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(false)),
        Some(Value::String(s)) => crate::sdk::parse_bool(s)
            .map(Some)
            .ok_or_else(|| wrong_type(field, "a boolean")),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => Err(wrong_type(field, "a boolean")),
        },
        Some(_) => Err(wrong_type(field, "a boolean")),
    }
}

/// An optional non-negative integer (also numeric strings).
pub fn opt_u64(data: &Map<String, Value>, field: &str) -> Result<Option<u64>, LogicalError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| wrong_type(field, "a non-negative integer")),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .parse::<u64>()
            .map(Some)
            .map_err(|_| wrong_type(field, "a non-negative integer")),
        Some(_) => Err(wrong_type(field, "a non-negative integer")),
    }
}

/// Durations are parsed as the contract defines them.
pub use crate::sdk::parse_duration;

/// An optional duration field, in seconds.
pub fn opt_duration(data: &Map<String, Value>, field: &str) -> Result<Option<u64>, LogicalError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong_type(field, "a duration (seconds or \"1h30m\")")),
        Some(Value::String(s)) => parse_duration(s)
            .map(Some)
            .ok_or_else(|| wrong_type(field, "a duration (seconds or \"1h30m\")")),
        Some(_) => Err(wrong_type(field, "a duration (seconds or \"1h30m\")")),
    }
}

/// An optional list of strings; a comma-separated string is accepted too.
pub fn opt_string_list(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, LogicalError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        )),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    Value::Number(n) => out.push(n.to_string()),
                    _ => return Err(wrong_type(field, "a list of strings")),
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(wrong_type(field, "a list of strings")),
    }
}

/// An optional list of integers (also a comma-separated string).
pub fn opt_u64_list(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<u64>>, LogicalError> {
    let Some(items) = (match data.get(field) {
        Some(Value::Array(items)) => Some(items.clone()),
        Some(Value::String(s)) => Some(
            s.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| Value::String(p.trim().to_string()))
                .collect(),
        ),
        Some(Value::Number(n)) => Some(vec![Value::Number(n.clone())]),
        None | Some(Value::Null) => None,
        Some(_) => return Err(wrong_type(field, "a list of integers")),
    }) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut m = Map::new();
        m.insert(field.to_string(), item);
        match opt_u64(&m, field) {
            Ok(Some(v)) => out.push(v),
            _ => return Err(wrong_type(field, "a list of integers")),
        }
    }
    Ok(Some(out))
}

/// An optional map of string to string.
pub fn opt_string_map(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<Map<String, Value>>, LogicalError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            if m.values().all(|v| v.is_string()) {
                Ok(Some(m.clone()))
            } else {
                Err(wrong_type(field, "a map of strings"))
            }
        }
        Some(_) => Err(wrong_type(field, "a map of strings")),
    }
}

/// An optional map of options (`options` of mounts and audit devices):
/// string, number and boolean values become strings, nulls are dropped,
/// anything else is a 400 naming the option.
pub fn opt_options(
    data: &Map<String, Value>,
    field: &str,
) -> Result<std::collections::BTreeMap<String, String>, LogicalError> {
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in opt_object(data, field)?.unwrap_or_default() {
        let s = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => {
                return Err(LogicalError::BadRequest(format!(
                    "option \"{k}\" must be a string"
                )))
            }
        };
        out.insert(k, s);
    }
    Ok(out)
}

/// An optional JSON object.
pub fn opt_object(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<Map<String, Value>>, LogicalError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(wrong_type(field, "an object")),
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
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("24h"), Some(86400));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("42"), Some(42));
        assert_eq!(parse_duration("soon"), None);
        let d = m(json!({"a": 5, "b": "1m", "c": true, "d": -1}));
        assert_eq!(opt_duration(&d, "a").unwrap(), Some(5));
        assert_eq!(opt_duration(&d, "b").unwrap(), Some(60));
        assert!(opt_duration(&d, "c").is_err());
        assert!(opt_duration(&d, "d").is_err());
    }

    #[test]
    fn wrong_types_name_the_field() {
        let d = m(json!({"n": [1], "s": {"x": 1}, "l": [1, {}]}));
        let e = opt_u64(&d, "n").unwrap_err().to_string();
        assert!(e.contains("\"n\""), "{e}");
        assert!(opt_string(&d, "s").is_err());
        assert!(opt_string_list(&d, "l").is_err());
        assert!(req_string(&d, "missing").is_err());
    }

    #[test]
    fn lists_and_numbers() {
        let d = m(json!({"l": "a, b,", "v": "1,2", "n": "7", "f": 2.0}));
        assert_eq!(opt_string_list(&d, "l").unwrap().unwrap(), vec!["a", "b"]);
        assert_eq!(opt_u64_list(&d, "v").unwrap().unwrap(), vec![1, 2]);
        assert_eq!(opt_u64(&d, "n").unwrap(), Some(7));
        assert_eq!(opt_u64(&d, "f").unwrap(), Some(2));
    }
}
