//! Policy text (HCL or JSON) to [`PathRule`]s.
//!
//! Both syntaxes are first reduced to [`RawPath`] blocks (path string plus
//! attribute values simplified to what validation needs), then validated and
//! compiled by one shared function, so HCL and JSON accept exactly the same
//! policies. Key validation follows Vault's `vault/policy.go`: the top level
//! may hold `name` and `path`; a path block may hold the keys in
//! [`PATH_KEYS`]; anything else is an error (so a typo such as `capabilites`
//! is reported instead of silently granting nothing).
//!
//! Before either parser runs, [`check_bounds`] makes one linear pass over
//! the text and refuses what no policy needs: more than
//! [`MAX_POLICY_BYTES`] bytes, or brackets, braces, parentheses and
//! template interpolations nested deeper than [`MAX_NESTING`] (outside
//! string literals and comments). The parsers' work is then bounded by the
//! size and depth of the input whatever their own strategy.

use hcl::structure::{Block, Structure};
use serde_json::{Map, Value};

use super::{Capability, CapabilitySet, PathKind, PathRule, PolicyError};

/// Keys Vault accepts inside a `path` block. Only `capabilities` and
/// `policy` are interpreted; the others are accepted and ignored.
const PATH_KEYS: [&str; 11] = [
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "control_group",
    "subscribe_event_types",
];

/// The largest policy text accepted, in bytes.
pub(crate) const MAX_POLICY_BYTES: usize = 64 * 1024;
/// The deepest nesting of `(`, `[`, `{`, `${` and `%{` accepted. A policy
/// needs 3 (`path "…" { capabilities = [ … ] }`, or JSON's objects).
pub(crate) const MAX_NESTING: usize = 32;

/// What the pre-scan is inside of.
#[derive(Clone, PartialEq, Eq)]
enum Scope {
    /// An expression bracket, with the character that closes it.
    Bracket(u8),
    /// A `${…}` / `%{…}` inside a string or heredoc.
    Interpolation,
    /// A quoted string.
    Str,
    /// A heredoc, with its closing delimiter.
    Heredoc(String),
}

/// One linear pass: refuses text over [`MAX_POLICY_BYTES`] or nested deeper
/// than [`MAX_NESTING`]. `templates`: whether `${`/`%{` in strings open a
/// nested expression (HCL) or are plain text (JSON). Anything else, even
/// unbalanced input, is left to the parser to report.
fn check_bounds(text: &str, templates: bool) -> Result<(), PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::Invalid(format!(
            "the policy is larger than {MAX_POLICY_BYTES} bytes"
        )));
    }
    let b = text.as_bytes();
    let mut stack: Vec<Scope> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0usize;
    let mut line_start = true;
    let too_deep = |at: usize| {
        let before = &text[..at];
        PolicyError::Parse {
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: format!("nesting deeper than {MAX_NESTING} levels"),
        }
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match stack.last() {
            Some(Scope::Str) => match c {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'$' | b'%' if templates && next == Some(c) && b.get(i + 2) == Some(&b'{') => {
                    i += 2;
                }
                b'$' | b'%' if templates && next == Some(b'{') => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(too_deep(i));
                    }
                    stack.push(Scope::Interpolation);
                    i += 1;
                }
                _ => {}
            },
            Some(Scope::Heredoc(delim)) => {
                if line_start {
                    let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                    if text[i..end].trim() == delim {
                        stack.pop();
                        i = end;
                        continue;
                    }
                }
                match c {
                    b'$' | b'%' if next == Some(c) && b.get(i + 2) == Some(&b'{') => i += 2,
                    b'$' | b'%' if next == Some(b'{') => {
                        depth += 1;
                        if depth > MAX_NESTING {
                            return Err(too_deep(i));
                        }
                        stack.push(Scope::Interpolation);
                        i += 1;
                    }
                    _ => {}
                }
            }
            _ => match c {
                b'"' => stack.push(Scope::Str),
                b'#' => {
                    i = text[i..].find('\n').map_or(b.len(), |n| i + n);
                    continue;
                }
                b'/' if next == Some(b'/') => {
                    i = text[i..].find('\n').map_or(b.len(), |n| i + n);
                    continue;
                }
                b'/' if next == Some(b'*') => {
                    i = text[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
                    line_start = false;
                    continue;
                }
                b'<' if templates && next == Some(b'<') => {
                    // `<<ID` or `<<-ID` then a newline starts a heredoc.
                    let rest = &text[i + 2..];
                    let rest = rest.strip_prefix('-').unwrap_or(rest);
                    let id_len = rest
                        .bytes()
                        .take_while(|x| x.is_ascii_alphanumeric() || *x == b'_' || *x == b'-')
                        .count();
                    let after = &rest[id_len..];
                    if id_len > 0 && (after.starts_with('\n') || after.starts_with("\r\n")) {
                        stack.push(Scope::Heredoc(rest[..id_len].to_owned()));
                        i = b.len() - after.len() + after.find('\n').unwrap_or(0) + 1;
                        line_start = true;
                        continue;
                    }
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(too_deep(i));
                    }
                    stack.push(Scope::Bracket(match c {
                        b'(' => b')',
                        b'[' => b']',
                        _ => b'}',
                    }));
                }
                b')' | b']' | b'}' => match stack.last() {
                    Some(Scope::Bracket(close)) if *close == c => {
                        stack.pop();
                        depth -= 1;
                    }
                    Some(Scope::Interpolation) if c == b'}' => {
                        stack.pop();
                        depth -= 1;
                    }
                    // Unbalanced: the parser reports it.
                    _ => return Ok(()),
                },
                _ => {}
            },
        }
        line_start = c == b'\n';
        i += 1;
    }
    Ok(())
}

/// An attribute value reduced to the shapes validation distinguishes.
#[derive(Debug)]
enum RawValue {
    /// A plain string literal.
    Str(String),
    /// A list whose items are all plain string literals.
    StrList(Vec<String>),
    /// Anything else (numbers, objects, nested blocks, interpolations, …).
    Other,
}

/// One `path` block before validation.
#[derive(Debug)]
struct RawPath {
    /// The block label / JSON key, as written.
    path: String,
    /// Attributes (and nested blocks) in source order.
    attrs: Vec<(String, RawValue)>,
}

/// Parses policy text into validated rules (source order, duplicates kept).
pub(crate) fn parse_rules(text: &str) -> Result<Vec<PathRule>, PolicyError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    read_raw_paths(text)?
        .into_iter()
        .map(compile_rule)
        .collect()
}

/// Chooses JSON or HCL and extracts the raw path blocks.
fn read_raw_paths(text: &str) -> Result<Vec<RawPath>, PolicyError> {
    if !text.trim_start().starts_with('{') {
        check_bounds(text, true)?;
        return hcl_paths(text);
    }
    check_bounds(text, false)?;
    match serde_json::from_str::<Value>(text) {
        Ok(value) => json_paths(&value),
        // Text starting with '{' is never valid HCL, but try anyway as
        // documented; if HCL fails too, the JSON error is the useful one.
        Err(json_err) => check_bounds(text, true)
            .and_then(|()| hcl_paths(text))
            .map_err(|_| json_error(&json_err)),
    }
}

/// Converts a serde_json syntax error into [`PolicyError::Parse`].
fn json_error(err: &serde_json::Error) -> PolicyError {
    PolicyError::Parse {
        line: err.line().max(1),
        column: err.column().max(1),
        message: json_error_message(err),
    }
}

/// serde_json's message without its own " at line L column C" suffix.
fn json_error_message(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// Converts an hcl-rs error into [`PolicyError::Parse`] with its location.
fn hcl_error(err: hcl::Error) -> PolicyError {
    match err {
        hcl::Error::Parse(e) => PolicyError::Parse {
            line: e.location().line(),
            column: e.location().column(),
            message: e.message().to_owned(),
        },
        // `hcl::parse` only reports located parse errors; keep any other
        // kind rather than panic.
        other => PolicyError::Parse {
            line: 1,
            column: 1,
            message: other.to_string(),
        },
    }
}

/// Extracts the path blocks of an HCL policy.
fn hcl_paths(text: &str) -> Result<Vec<RawPath>, PolicyError> {
    let body = hcl::parse(text).map_err(hcl_error)?;
    let mut out = Vec::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) if attr.key() == "name" => {}
            Structure::Attribute(attr) if attr.key() == "path" => {
                return Err(PolicyError::Invalid(
                    "\"path\" must be a block: path \"<path>\" { ... }".to_owned(),
                ));
            }
            Structure::Attribute(attr) => return Err(invalid_top_key(attr.key())),
            Structure::Block(block) if block.identifier() == "path" => {
                out.push(hcl_path_block(block)?);
            }
            Structure::Block(block) => return Err(invalid_top_key(block.identifier())),
        }
    }
    Ok(out)
}

/// Error for a top-level key other than `name` / `path`.
fn invalid_top_key(key: &str) -> PolicyError {
    PolicyError::Invalid(format!("invalid key {key:?} (expected \"path\" blocks)"))
}

/// Converts one HCL `path "<label>" { ... }` block.
fn hcl_path_block(block: &Block) -> Result<RawPath, PolicyError> {
    let path = match block.labels() {
        [label] => label.as_str().to_owned(),
        _ => {
            return Err(PolicyError::Invalid(
                "a path block must have exactly one label: path \"<path>\" { ... }".to_owned(),
            ))
        }
    };
    let attrs = block
        .body()
        .iter()
        .map(|s| match s {
            Structure::Attribute(attr) => (attr.key().to_owned(), hcl_value(attr.expr())),
            Structure::Block(inner) => (inner.identifier().to_owned(), RawValue::Other),
        })
        .collect();
    Ok(RawPath { path, attrs })
}

/// Reduces an HCL expression to a [`RawValue`].
fn hcl_value(expr: &hcl::Expression) -> RawValue {
    match expr {
        hcl::Expression::String(s) => RawValue::Str(s.clone()),
        hcl::Expression::Array(items) => items
            .iter()
            .map(|item| match item {
                hcl::Expression::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()
            .map_or(RawValue::Other, RawValue::StrList),
        _ => RawValue::Other,
    }
}

/// Extracts the path blocks of a JSON policy:
/// `{"path": {"<path>": {"capabilities": [...]}, ...}}`. Like HCL 1's JSON
/// form, `"path"` may also be a list of such objects, and a path's body a
/// list of objects.
fn json_paths(value: &Value) -> Result<Vec<RawPath>, PolicyError> {
    let Value::Object(top) = value else {
        return Err(PolicyError::Invalid(
            "a JSON policy must be an object".to_owned(),
        ));
    };
    let mut out = Vec::new();
    for (key, value) in top {
        match key.as_str() {
            "name" => {}
            "path" => json_path_list(value, &mut out)?,
            other => return Err(invalid_top_key(other)),
        }
    }
    Ok(out)
}

/// Handles the value of the top-level `"path"` key.
fn json_path_list(value: &Value, out: &mut Vec<RawPath>) -> Result<(), PolicyError> {
    let not_object = || PolicyError::Invalid("\"path\" must be an object of paths".to_owned());
    match value {
        Value::Object(paths) => json_path_map(paths, out),
        Value::Array(items) => items.iter().try_for_each(|item| match item {
            Value::Object(paths) => json_path_map(paths, out),
            _ => Err(not_object()),
        }),
        _ => Err(not_object()),
    }
}

/// Handles `{"<path>": {...}, ...}`.
fn json_path_map(paths: &Map<String, Value>, out: &mut Vec<RawPath>) -> Result<(), PolicyError> {
    for (path, body) in paths {
        match body {
            Value::Object(attrs) => out.push(json_raw_path(path, attrs)),
            Value::Array(items) => {
                for item in items {
                    let Value::Object(attrs) = item else {
                        return Err(PolicyError::invalid_path(path, "must be an object"));
                    };
                    out.push(json_raw_path(path, attrs));
                }
            }
            _ => return Err(PolicyError::invalid_path(path, "must be an object")),
        }
    }
    Ok(())
}

/// Converts one JSON path body.
fn json_raw_path(path: &str, attrs: &Map<String, Value>) -> RawPath {
    RawPath {
        path: path.to_owned(),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.clone(), json_value(v)))
            .collect(),
    }
}

/// Reduces a JSON value to a [`RawValue`].
fn json_value(value: &Value) -> RawValue {
    match value {
        Value::String(s) => RawValue::Str(s.clone()),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .map_or(RawValue::Other, RawValue::StrList),
        _ => RawValue::Other,
    }
}

/// Validates one raw path block and turns it into a [`PathRule`].
fn compile_rule(raw: RawPath) -> Result<PathRule, PolicyError> {
    check_keys(&raw)?;
    let mut capabilities = CapabilitySet::empty();
    for (key, value) in &raw.attrs {
        match key.as_str() {
            "capabilities" => {
                capabilities = capabilities.merge(parse_capabilities(&raw.path, value)?);
            }
            "policy" => capabilities = capabilities.merge(legacy_policy(&raw.path, value)?),
            _ => {}
        }
    }
    let (path, kind) = normalize_path(&raw.path)?;
    Ok(PathRule {
        path,
        kind,
        capabilities,
    })
}

/// Rejects unknown and repeated keys in a path block.
fn check_keys(raw: &RawPath) -> Result<(), PolicyError> {
    for (i, (key, _)) in raw.attrs.iter().enumerate() {
        if !PATH_KEYS.contains(&key.as_str()) {
            return Err(PolicyError::invalid_path(
                &raw.path,
                format!("invalid key {key:?}"),
            ));
        }
        if raw.attrs[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(PolicyError::invalid_path(
                &raw.path,
                format!("duplicate key {key:?}"),
            ));
        }
    }
    Ok(())
}

/// Parses `capabilities = [...]`. A listed `deny` makes the rule deny-only.
fn parse_capabilities(path: &str, value: &RawValue) -> Result<CapabilitySet, PolicyError> {
    let RawValue::StrList(names) = value else {
        return Err(PolicyError::invalid_path(
            path,
            "capabilities must be a list of strings",
        ));
    };
    let mut set = CapabilitySet::empty();
    for name in names {
        let cap = Capability::parse(name).ok_or_else(|| {
            PolicyError::invalid_path(path, format!("invalid capability {name:?}"))
        })?;
        set.insert(cap);
    }
    if set.is_deny() {
        // Vault keeps only `deny` when it is listed with anything else.
        return Ok(CapabilitySet::deny());
    }
    Ok(set)
}

/// Maps Vault's legacy `policy = "deny|read|write|sudo"` to capabilities,
/// exactly as `vault/policy.go` does (`write` does not include `patch`).
fn legacy_policy(path: &str, value: &RawValue) -> Result<CapabilitySet, PolicyError> {
    use Capability::{Create, Delete, List, Read, Sudo, Update};
    let RawValue::Str(name) = value else {
        return Err(PolicyError::invalid_path(path, "policy must be a string"));
    };
    let caps: &[Capability] = match name.as_str() {
        "deny" => return Ok(CapabilitySet::deny()),
        "read" => &[Read, List],
        "write" => &[Create, Read, Update, Delete, List],
        "sudo" => &[Create, Read, Update, Delete, List, Sudo],
        _ => {
            return Err(PolicyError::invalid_path(
                path,
                format!("invalid policy {name:?}"),
            ))
        }
    };
    Ok(caps.iter().copied().collect())
}

/// Strips one leading `/` and the trailing `*`, and checks wildcard use:
/// `*` only at the very end, never directly after `+`.
fn normalize_path(raw: &str) -> Result<(String, PathKind), PolicyError> {
    let path = raw.strip_prefix('/').unwrap_or(raw);
    if path.contains("+*") {
        return Err(PolicyError::invalid_path(
            raw,
            "invalid use of wildcards ('+*' is forbidden)",
        ));
    }
    let (body, kind) = match path.strip_suffix('*') {
        Some(body) => (body, PathKind::Prefix),
        None => (path, PathKind::Exact),
    };
    if body.contains('*') {
        return Err(PolicyError::invalid_path(
            raw,
            "'*' is only allowed at the end of a path",
        ));
    }
    Ok((body.to_owned(), kind))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn caps(names: &[Capability]) -> CapabilitySet {
        names.iter().copied().collect()
    }

    fn rules(text: &str) -> Vec<PathRule> {
        match parse_rules(text) {
            Ok(r) => r,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn invalid(text: &str) -> String {
        match parse_rules(text) {
            Err(PolicyError::Invalid(msg)) => msg,
            other => panic!("{text:?} should be Invalid, got {other:?}"),
        }
    }

    fn parse_err(text: &str) -> (usize, usize, String) {
        match parse_rules(text) {
            Err(PolicyError::Parse {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("{text:?} should be a Parse error, got {other:?}"),
        }
    }

    #[test]
    fn hcl_basic() {
        let r = rules(
            r#"
            # comment
            path "secret/data/app/*" {
                capabilities = ["read", "list"]
            }
            // another comment
            path "/sys/mounts" { capabilities = ["read", "sudo"] }
            path "a/+/b" {
              capabilities = []
            }
            "#,
        );
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].path, "secret/data/app/");
        assert_eq!(r[0].kind, PathKind::Prefix);
        assert_eq!(
            r[0].capabilities,
            caps(&[Capability::Read, Capability::List])
        );
        assert_eq!(r[1].path, "sys/mounts");
        assert_eq!(r[1].kind, PathKind::Exact);
        assert_eq!(
            r[1].capabilities,
            caps(&[Capability::Read, Capability::Sudo])
        );
        assert_eq!(r[2].path, "a/+/b");
        assert!(r[2].capabilities.is_empty());
    }

    #[test]
    fn every_capability_name() {
        let r = rules(
            r#"path "x" { capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"] }"#,
        );
        assert_eq!(r[0].capabilities, CapabilitySet::all());
    }

    #[test]
    fn deny_makes_rule_deny_only() {
        let r = rules(r#"path "x" { capabilities = ["read", "deny", "list"] }"#);
        assert_eq!(r[0].capabilities, CapabilitySet::deny());
    }

    #[test]
    fn json_basic() {
        let r = rules(
            r#"  {"path": {"secret/*": {"capabilities": ["read"]},
                         "/sys/x": {"capabilities": ["update", "sudo"], "min_wrapping_ttl": "1s"}},
                "name": "ignored"}"#,
        );
        assert_eq!(r.len(), 2);
        let secret = r
            .iter()
            .find(|r| r.path == "secret/")
            .expect("secret/ rule");
        assert_eq!(secret.kind, PathKind::Prefix);
        assert_eq!(secret.capabilities, caps(&[Capability::Read]));
        let sys = r.iter().find(|r| r.path == "sys/x").expect("sys/x rule");
        assert_eq!(sys.kind, PathKind::Exact);
        assert_eq!(
            sys.capabilities,
            caps(&[Capability::Update, Capability::Sudo])
        );
    }

    #[test]
    fn json_list_forms() {
        let r = rules(
            r#"{"path": [{"a": {"capabilities": ["read"]}},
                         {"b": [{"capabilities": ["list"]}, {"policy": "deny"}]}]}"#,
        );
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].path, "a");
        assert_eq!(r[1].capabilities, caps(&[Capability::List]));
        assert_eq!(r[2].capabilities, CapabilitySet::deny());
    }

    #[test]
    fn json_and_hcl_agree() {
        let hcl = rules(r#"path "k/+/v*" { capabilities = ["patch", "delete"] }"#);
        let json = rules(r#"{"path": {"k/+/v*": {"capabilities": ["patch", "delete"]}}}"#);
        assert_eq!(hcl.len(), 1);
        assert_eq!(json.len(), 1);
        assert_eq!(hcl[0].path, json[0].path);
        assert_eq!(hcl[0].kind, json[0].kind);
        assert_eq!(hcl[0].capabilities, json[0].capabilities);
    }

    #[test]
    fn empty_policies_are_allowed() {
        assert!(rules("").is_empty());
        assert!(rules("   \n# only a comment\n").is_empty());
        assert!(rules("{}").is_empty());
        assert!(rules(r#"{"path": {}}"#).is_empty());
        assert!(rules("name = \"x\"\n").is_empty());
    }

    #[test]
    fn duplicate_blocks_are_kept_for_the_acl_to_merge() {
        let r = rules(
            r#"
            path "a" { capabilities = ["read"] }
            path "a" { capabilities = ["list"] }
            "#,
        );
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn legacy_policy_attribute() {
        use Capability::*;
        let r = rules(
            r#"
            path "r" { policy = "read" }
            path "w" { policy = "write" }
            path "s" { policy = "sudo" }
            path "d" { policy = "deny" }
            path "m" {
              policy = "read"
              capabilities = ["update"]
            }
            "#,
        );
        assert_eq!(r[0].capabilities, caps(&[Read, List]));
        assert_eq!(
            r[1].capabilities,
            caps(&[Create, Read, Update, Delete, List])
        );
        assert_eq!(
            r[2].capabilities,
            caps(&[Create, Read, Update, Delete, List, Sudo])
        );
        assert_eq!(r[3].capabilities, CapabilitySet::deny());
        assert_eq!(r[4].capabilities, caps(&[Read, List, Update]));
        let msg = invalid(r#"path "x" { policy = "admin" }"#);
        assert!(msg.contains("\"x\"") && msg.contains("admin"), "{msg}");
        invalid(r#"path "x" { policy = ["read"] }"#);
    }

    #[test]
    fn vault_extra_keys_are_accepted_and_ignored() {
        let r = rules(
            r#"
            path "secret/data/app" {
              capabilities = ["create", "update"]
              comment = "app config"
              allowed_parameters = {
                "foo" = []
                "*" = ["a", "b"]
              }
              denied_parameters = { "bar" = [] }
              required_parameters = ["foo"]
              min_wrapping_ttl = "1s"
              max_wrapping_ttl = 90
              mfa_methods = ["m"]
              control_group {
                ttl = "4h"
              }
              subscribe_event_types = ["*"]
            }
            "#,
        );
        assert_eq!(
            r[0].capabilities,
            caps(&[Capability::Create, Capability::Update])
        );
    }

    #[test]
    fn unknown_capability_is_named() {
        let msg = invalid(r#"path "secret/x" { capabilities = ["read", "write"] }"#);
        assert!(msg.contains("\"write\""), "{msg}");
        assert!(msg.contains("secret/x"), "{msg}");
        let msg = invalid(r#"{"path": {"p": {"capabilities": ["Read"]}}}"#);
        assert!(msg.contains("\"Read\"") && msg.contains("\"p\""), "{msg}");
    }

    #[test]
    fn capabilities_must_be_a_list_of_strings() {
        for text in [
            r#"path "p" { capabilities = "read" }"#,
            r#"path "p" { capabilities = ["read", 1] }"#,
            r#"path "p" { capabilities = [["read"]] }"#,
            r#"path "p" { capabilities = { read = true } }"#,
            r#"path "p" { capabilities = ["${var.x}"] }"#,
            r#"path "p" { capabilities = true }"#,
            "path \"p\" {\n  capabilities {\n    x = 1\n  }\n}\n",
            r#"{"path": {"p": {"capabilities": "read"}}}"#,
            r#"{"path": {"p": {"capabilities": [null]}}}"#,
            r#"{"path": {"p": {"capabilities": {"read": true}}}}"#,
        ] {
            let msg = invalid(text);
            assert!(msg.contains("\"p\""), "{text}: {msg}");
        }
    }

    #[test]
    fn misplaced_wildcards() {
        for (text, needle) in [
            (r#"path "a/*/b" { capabilities = ["read"] }"#, "a/*/b"),
            (r#"path "a**" { capabilities = ["read"] }"#, "a**"),
            (r#"path "*a" { capabilities = ["read"] }"#, "*a"),
            (r#"path "a/+*" { capabilities = ["read"] }"#, "a/+*"),
            (r#"path "+*" { capabilities = ["read"] }"#, "+*"),
            (
                r#"{"path": {"x/*/y": {"capabilities": ["read"]}}}"#,
                "x/*/y",
            ),
        ] {
            let msg = invalid(text);
            assert!(msg.contains(needle), "{text}: {msg}");
        }
    }

    #[test]
    fn wildcard_shapes_that_are_allowed() {
        let r = rules(
            r#"
            path "*" { capabilities = ["read"] }
            path "/" { capabilities = ["read"] }
            path "+" { capabilities = ["read"] }
            path "+/a/+/*" { capabilities = ["read"] }
            path "a+b" { capabilities = ["read"] }
            "#,
        );
        let shapes: Vec<(&str, PathKind)> = r.iter().map(|r| (r.path.as_str(), r.kind)).collect();
        assert_eq!(
            shapes,
            vec![
                ("", PathKind::Prefix),
                ("", PathKind::Exact),
                ("+", PathKind::Exact),
                ("+/a/+/", PathKind::Prefix),
                ("a+b", PathKind::Exact),
            ]
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let msg = invalid(r#"path "p" { capabilites = ["read"] }"#);
        assert!(
            msg.contains("capabilites") && msg.contains("\"p\""),
            "{msg}"
        );
        invalid(r#"{"path": {"p": {"capabilites": ["read"]}}}"#);
        invalid(r#"paths "p" { capabilities = ["read"] }"#);
        invalid(r#"foo = "bar""#);
        invalid(r#"{"paths": {}}"#);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        // hcl-rs already rejects duplicate attributes as a syntax error.
        let (line, column, _) = parse_err(
            "path \"p\" {\n  capabilities = [\"read\"]\n  capabilities = [\"list\"]\n}\n",
        );
        assert_eq!((line, column), (3, 3));
        let msg = invalid("path \"p\" {\n  capabilities = [\"read\"]\n  capabilities {\n  }\n}\n");
        assert!(msg.contains("duplicate"), "{msg}");
    }

    #[test]
    fn malformed_path_blocks() {
        invalid(r#"path { capabilities = ["read"] }"#);
        invalid(r#"path "a" "b" { capabilities = ["read"] }"#);
        invalid(r#"path = "a""#);
        invalid(r#"{"path": "a"}"#);
        invalid(r#"{"path": ["a"]}"#);
        invalid(r#"{"path": {"a": ["read"]}}"#);
        invalid(r#"{"path": {"a": "read"}}"#);
    }

    #[test]
    fn hcl_syntax_errors_carry_line_and_column() {
        let (line, column, message) =
            parse_err("path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"b\" {\n    capabilities = [\"read\"\n}\n");
        assert_eq!(line, 6);
        assert_eq!(column, 1);
        assert!(message.contains(']'), "{message}");

        let (line, column, _) =
            parse_err("path \"a\" {\n  capabilities = [\"read\"]\n  x y z\n}\n");
        assert_eq!(line, 3);
        assert!(column >= 3, "{column}");

        let (line, column, _) = parse_err("path \"a\" {");
        assert_eq!((line, column), (1, 11));
    }

    #[test]
    fn parse_error_display() {
        let err =
            parse("p", "path \"a\" {\n  capabilities = [\"read\"\n}\n").expect_err("syntax error");
        let shown = err.to_string();
        assert!(
            shown.starts_with("failed to parse policy: line 3, column 1: "),
            "{shown}"
        );
    }

    #[test]
    fn json_syntax_errors_carry_line_and_column() {
        let (line, column, message) =
            parse_err("{\"path\": {\n  \"a\": {\"capabilities\": [\"read\",]}\n}}");
        assert_eq!(line, 2);
        assert!(column > 1, "{column}");
        assert!(!message.contains(" at line "), "{message}");
        let (line, _, _) = parse_err("{");
        assert_eq!(line, 1);
    }

    #[test]
    fn garbage_never_panics() {
        let inputs = [
            "\u{feff}path \"a\" { capabilities = [\"read\"] }",
            "\0\0\0",
            "path \"a\" { capabilities = [",
            "path \"\u{1F600}\" { capabilities = [\"read\"] }",
            "{\"path\": 5}",
            "[]",
            "path \"a\" { capabilities = [\"read\"] } }",
            "}",
            "path \"${x}\" { capabilities = [\"read\"] }",
            "path \"a\" { capabilities = <<EOT\nread\nEOT\n }",
        ];
        for text in inputs {
            let _ = parse_rules(text);
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let _ = parse_rules(&format!("path \"a\" {{ capabilities = {deep} }}"));
        let _ = parse_rules(&format!("{{\"path\": {deep}}}"));
        let blocks = format!("{}{}", "a {\n".repeat(100_000), "}\n".repeat(100_000));
        let _ = parse_rules(&blocks);
    }

    #[test]
    fn bom_is_ignored() {
        let r = rules("\u{feff}path \"a\" { capabilities = [\"read\"] }");
        assert_eq!(r.len(), 1);
    }

    fn nest(open: &str, close: &str, n: usize) -> String {
        format!("{}\"x\"{}", open.repeat(n), close.repeat(n))
    }

    fn too_deep(text: &str) -> bool {
        matches!(parse_rules(text), Err(PolicyError::Parse { message, .. }) if message.contains("nesting deeper"))
    }

    #[test]
    fn nesting_beyond_the_bound_is_refused_before_parsing() {
        for (open, close) in [("[", "]"), ("(", ")"), ("{a = ", "}"), ("\"${", "}\"")] {
            let deep = format!(
                "path \"a\" {{\n  comment = {}\n  capabilities = [\"read\"]\n}}\n",
                nest(open, close, MAX_NESTING + 8)
            );
            assert!(too_deep(&deep), "{open}: {:?}", parse_rules(&deep).err());
            let shallow = format!(
                "path \"a\" {{\n  comment = {}\n  capabilities = [\"read\"]\n}}\n",
                nest(open, close, MAX_NESTING - 4)
            );
            assert!(!too_deep(&shallow), "{open}");
        }
        // Very deep and unterminated: refused at once.
        let worst = format!("path \"a\" {{ c = {}", "[{(\"${".repeat(20_000));
        assert!(worst.len() > MAX_POLICY_BYTES);
        assert!(parse_rules(&worst).is_err());
        let worst = format!("path \"a\" {{ c = {}", "[{(\"${".repeat(2_000));
        assert!(too_deep(&worst));
        // JSON is bounded too.
        let json = format!(
            "{{\"path\": {{\"a\": {{\"x\": {}}}}}}}",
            nest("[", "]", 100)
        );
        assert!(too_deep(&json), "{:?}", parse_rules(&json).err());
    }

    #[test]
    fn brackets_in_strings_comments_and_heredocs_do_not_count() {
        let many = "[".repeat(200);
        let text = format!(
            "# {many}\n// {many}\n/* {many} */\npath \"a/{many}\" {{\n  comment = \"{many} $${{ %%{{\"\n  \
             capabilities = [\"read\"]\n}}\npath \"b\" {{\n  comment = <<EOT\n{many}\nEOT\n  \
             capabilities = [\"list\"]\n}}\n"
        );
        let r = rules(&text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].capabilities, caps(&[Capability::List]));
        let json = format!("{{\"path\": {{\"a/{many}${{\": {{\"capabilities\": [\"read\"]}}}}}}");
        assert_eq!(rules(&json).len(), 1);
    }

    #[test]
    fn oversized_policies_are_refused() {
        let block = "path \"secret/data/app/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n";
        let fits = block.repeat(MAX_POLICY_BYTES / block.len());
        assert!(rules(&fits).len() > 100);
        let over = block.repeat(MAX_POLICY_BYTES / block.len() + 1);
        assert!(
            matches!(parse_rules(&over), Err(PolicyError::Invalid(m)) if m.contains("larger than"))
        );
    }
}
