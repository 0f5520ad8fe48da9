//! Declared routes: what a backend serves, as data.
//!
//! Owns: the [`Route`] description (a path pattern, the operations it
//! serves, whether it needs `sudo`, whether it is served without a token,
//! and the schema of its fields), the matcher that turns a mount-relative
//! path into the route and its captures ([`find`], [`lookup`]), and the
//! validation of request data against a route's [`Field`]s.
//! Must not touch: anything of this crate but what [`crate::sdk`] may name
//! (the sdk is a leaf); the routes themselves belong to their backends.
//!
//! # Patterns
//! A pattern is a path relative to the mount, in segments separated by
//! `/`, matched against the canonical path the pipeline hands the backend
//! (non-empty segments; only a list ends in `/`):
//!
//! | segment    | matches                                                        |
//! |------------|----------------------------------------------------------------|
//! | `name`     | that segment exactly                                           |
//! | `:name`    | one non-empty segment, captured as `name`                      |
//! | `:name*`   | the rest of the path, whatever it is (empty, several segments, a trailing `/`), captured |
//! | `:name+`   | the rest of the path when it names an entry: non-empty, no trailing `/` |
//! | `prefix*`  | (last segment) any rest starting with `prefix` (Vault's special-path glob) |
//!
//! A trailing `/` in a pattern is significant: `role/` is the folder a LIST
//! names, `role` is not. The rest captures and the glob must come last.
//!
//! A path matches at most one route of a table (each backend's table is
//! checked for overlaps by its tests, see [`overlaps`]). [`find`] tells an
//! unknown path (404) from a known path asked for an operation it does not
//! serve (405).

use serde_json::{Map, Value};

use super::Operation;

/// Every operation (for routes whose handler decides per operation).
pub const ALL_OPERATIONS: &[Operation] = &[
    Operation::Read,
    Operation::List,
    Operation::Create,
    Operation::Update,
    Operation::Patch,
    Operation::Delete,
];

/// One route of a backend.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The pattern (see the module docs).
    pub pattern: &'static str,
    /// The operations the route serves.
    pub operations: &'static [Operation],
    /// The caller needs the `sudo` capability on the path as well.
    pub sudo: bool,
    /// Served without a token (logins, public documents).
    pub unauthenticated: bool,
    /// The fields a write may carry, checked before the handler runs.
    pub fields: &'static [Field],
}

impl Route {
    /// A route serving `operations` on `pattern`; no sudo, a token needed,
    /// no declared fields.
    pub const fn new(pattern: &'static str, operations: &'static [Operation]) -> Route {
        Route {
            pattern,
            operations,
            sudo: false,
            unauthenticated: false,
            fields: &[],
        }
    }

    /// A folder that only LIST serves.
    pub const fn list(pattern: &'static str) -> Route {
        Route::new(pattern, &[Operation::List])
    }

    /// The same route, root-protected (`sudo`).
    pub const fn sudo(self) -> Route {
        Route { sudo: true, ..self }
    }

    /// The same route, served without a token.
    pub const fn unauthenticated(self) -> Route {
        Route {
            unauthenticated: true,
            ..self
        }
    }

    /// The same route with a field schema.
    pub const fn fields(self, fields: &'static [Field]) -> Route {
        Route { fields, ..self }
    }

    /// Whether the route serves `op`.
    pub fn serves(&self, op: Operation) -> bool {
        self.operations.contains(&op)
    }

    /// Whether LIST is the only operation the route serves.
    pub fn list_only(&self) -> bool {
        self.operations == [Operation::List]
    }

    /// The captures of `path` if it matches the pattern.
    pub fn matches<'p>(&self, path: &'p str) -> Option<Captures<'p>> {
        // Decide first, capture only on a match: most routes of a table
        // fail, and they allocate nothing.
        if !may_match(self.pattern, path) || !match_pattern(self.pattern, path, &mut None) {
            return None;
        }
        let mut caps = Captures::default();
        match_pattern(self.pattern, path, &mut Some(&mut caps));
        Some(caps)
    }

    /// Checks the fields of a write (create, update, patch) against the
    /// schema: a declared field of the wrong type, or a required one
    /// missing, is an error naming the field. Undeclared fields pass
    /// (handlers may read more than the schema says); other operations
    /// carry query parameters and pass.
    pub fn validate(&self, op: Operation, data: &Map<String, Value>) -> Result<(), FieldError> {
        if !matches!(op, Operation::Create | Operation::Update | Operation::Patch) {
            return Ok(());
        }
        for f in self.fields {
            f.parse(data)?;
        }
        Ok(())
    }

    /// The typed value of each declared field in `data`, defaults applied
    /// (see [`Field::parse`]).
    pub fn parse(&self, data: &Map<String, Value>) -> Result<FieldData, FieldError> {
        let mut out = Map::new();
        for f in self.fields {
            if let Some(v) = f.parse(data)? {
                out.insert(f.name.to_string(), v);
            }
        }
        Ok(FieldData(out))
    }
}

/// The values of a path's captures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captures<'p> {
    items: Vec<(&'static str, &'p str)>,
}

impl<'p> Captures<'p> {
    /// The value captured as `name`; `""` for a name the pattern does not
    /// capture (a table and its typed mapping are tested together).
    pub fn get(&self, name: &str) -> &'p str {
        self.items
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v)
    }
}

/// A path matched to a route of a table.
#[derive(Clone, Debug)]
pub struct Matched<'r, 'p> {
    pub route: &'r Route,
    pub captures: Captures<'p>,
}

impl<'p> Matched<'_, 'p> {
    /// The pattern of the matched route (engines map it to their own typed
    /// route).
    pub fn pattern(&self) -> &'static str {
        self.route.pattern
    }

    /// Shorthand for `captures.get(name)`.
    pub fn get(&self, name: &str) -> &'p str {
        self.captures.get(name)
    }
}

/// Why a path has no route for an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No route of the table matches the path (404).
    UnsupportedPath,
    /// A route matches the path but does not serve the operation (405).
    UnsupportedOperation,
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RouteError::UnsupportedPath => "unsupported path",
            RouteError::UnsupportedOperation => "unsupported operation",
        })
    }
}

impl std::error::Error for RouteError {}

/// The route of `table` serving `op` on `path`, with its captures.
pub fn find<'r, 'p>(
    table: &'r [Route],
    path: &'p str,
    op: Operation,
) -> Result<Matched<'r, 'p>, RouteError> {
    let mut known = false;
    for route in table {
        if let Some(captures) = route.matches(path) {
            if route.serves(op) {
                return Ok(Matched { route, captures });
            }
            known = true;
        }
    }
    Err(if known {
        RouteError::UnsupportedOperation
    } else {
        RouteError::UnsupportedPath
    })
}

/// The first route of `table` matching `path`, whatever the operation.
pub fn lookup<'r, 'p>(table: &'r [Route], path: &'p str) -> Option<Matched<'r, 'p>> {
    table.iter().find_map(|route| {
        route
            .matches(path)
            .map(|captures| Matched { route, captures })
    })
}

/// A quick test that rules out most routes of a table without splitting
/// the pattern: the literal text before the first capture must start the
/// path, and, for a pattern without a rest capture or glob, the literal
/// text after the last capture must end it (or the whole literal pattern
/// be the path).
fn may_match(pattern: &str, path: &str) -> bool {
    let special = |b: &u8| *b == b':' || *b == b'*';
    let Some(first) = pattern.as_bytes().iter().position(special) else {
        return pattern == path;
    };
    if !path.starts_with(&pattern[..first]) {
        return false;
    }
    if pattern.ends_with('*') || pattern.ends_with('+') {
        return true;
    }
    let last = pattern
        .as_bytes()
        .iter()
        .rposition(|b| *b == b':')
        .unwrap_or(first);
    match pattern.as_bytes()[last..].iter().position(|b| *b == b'/') {
        Some(i) => path.ends_with(&pattern[last + i..]),
        None => true,
    }
}

/// Whether `path` matches `pattern`; records the captures in `caps` when
/// given one.
fn match_pattern<'p>(
    pattern: &'static str,
    path: &'p str,
    caps: &mut Option<&mut Captures<'p>>,
) -> bool {
    let mut capture = |name: &'static str, value: &'p str| {
        if let Some(c) = caps.as_deref_mut() {
            c.items.push((name, value));
        }
    };
    let mut rest = path;
    let mut segs = pattern.split('/').peekable();
    while let Some(seg) = segs.next() {
        let last = segs.peek().is_none();
        if let Some(name) = seg.strip_prefix(':') {
            if let Some(name) = name.strip_suffix('*') {
                capture(name, rest);
                return last;
            }
            if let Some(name) = name.strip_suffix('+') {
                let entry = !rest.is_empty() && !rest.ends_with('/');
                capture(name, rest);
                return last && entry;
            }
        } else if let Some(prefix) = seg.strip_suffix('*') {
            return last && rest.starts_with(prefix);
        }
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        match seg.strip_prefix(':') {
            Some(name) if !head.is_empty() => capture(name, head),
            Some(_) => return false,
            None if seg == head => {}
            None => return false,
        }
        match (tail, last) {
            (None, true) => return true,
            (Some(t), false) => rest = t,
            _ => return false,
        }
    }
    false
}

/// Paths that more than one route of `table` matches, as
/// `"<pattern> and <pattern> both match <path>"`: empty for a sound table.
/// Each pattern is instantiated with sample values for its captures (one
/// segment, several segments, a folder, nothing) and every sample is
/// matched against the whole table.
pub fn overlaps(table: &[Route]) -> Vec<String> {
    let mut pairs = std::collections::BTreeMap::new();
    for (i, route) in table.iter().enumerate() {
        for sample in samples(route.pattern) {
            if route.matches(&sample).is_none() {
                continue;
            }
            for (j, other) in table.iter().enumerate() {
                if i != j && other.matches(&sample).is_some() {
                    pairs.entry((i.min(j), i.max(j))).or_insert(sample.clone());
                }
            }
        }
    }
    pairs
        .into_iter()
        .map(|((i, j), sample)| {
            format!(
                "{} and {} both match {sample:?}",
                table[i].pattern, table[j].pattern
            )
        })
        .collect()
}

/// Concrete paths a pattern stands for.
fn samples(pattern: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let segs: Vec<&str> = pattern.split('/').collect();
    for (i, seg) in segs.iter().enumerate() {
        let sep = if i == 0 { "" } else { "/" };
        let values: Vec<String> = if seg.starts_with(':') && seg.ends_with('*') {
            ["", "k", "a/b", "a/", "a/b/"]
                .iter()
                .map(|v| v.to_string())
                .collect()
        } else if seg.starts_with(':') && seg.ends_with('+') {
            vec!["k".into(), "a/b".into()]
        } else if let Some(name) = seg.strip_prefix(':') {
            vec![name.to_string(), "x".into()]
        } else if let Some(prefix) = seg.strip_suffix('*') {
            vec![
                prefix.to_string(),
                format!("{prefix}x"),
                format!("{prefix}/x"),
            ]
        } else {
            vec![seg.to_string()]
        };
        out = out
            .iter()
            .flat_map(|p| values.iter().map(move |v| format!("{p}{sep}{v}")))
            .collect();
    }
    out
}

/// The type of a declared field, with the leniency of Vault's field
/// parser (numbers and booleans may come as strings, lists as
/// comma-separated strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A string; numbers and booleans are taken as their text.
    String,
    /// `true`/`false`, also `"true"`, `"1"`, `"false"`, `"0"`, `""`, 0, 1.
    Bool,
    /// A non-negative integer, also a numeric string (`""` is absent).
    Int,
    /// Seconds, or a Go-style duration string (`"90s"`, `"1h30m"`).
    Duration,
    /// A list of strings, or a comma-separated string.
    StringList,
    /// A list of non-negative integers, or a comma-separated string.
    IntList,
    /// An object whose values are strings.
    StringMap,
    /// Any JSON object.
    Map,
}

/// A declared field: its name, type, whether a write must carry it, and
/// the value it takes when absent.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldType,
    pub required: bool,
    pub default: Option<FieldDefault>,
}

/// A field's default value (a `const` stand-in for a JSON value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldDefault {
    Bool(bool),
    Int(u64),
    Str(&'static str),
}

impl FieldDefault {
    fn to_value(self) -> Value {
        match self {
            FieldDefault::Bool(b) => Value::Bool(b),
            FieldDefault::Int(n) => Value::from(n),
            FieldDefault::Str(s) => Value::from(s),
        }
    }
}

impl Field {
    /// An optional field without a default.
    pub const fn new(name: &'static str, kind: FieldType) -> Field {
        Field {
            name,
            kind,
            required: false,
            default: None,
        }
    }

    /// The same field, required in every write.
    pub const fn required(self) -> Field {
        Field {
            required: true,
            ..self
        }
    }

    /// The same field, `default` when absent.
    pub const fn default(self, default: FieldDefault) -> Field {
        Field {
            default: Some(default),
            ..self
        }
    }

    /// The field's value in `data` in its typed JSON form (a string, a
    /// bool, an integer of seconds for durations, an array, an object);
    /// the default when absent; `None` when absent without a default.
    pub fn parse(&self, data: &Map<String, Value>) -> Result<Option<Value>, FieldError> {
        let v = match data.get(self.name) {
            None | Some(Value::Null) => None,
            Some(v) => parse_value(self.name, self.kind, v)?,
        };
        match v {
            Some(v) => Ok(Some(v)),
            None if self.required => Err(FieldError::Missing(self.name.to_string())),
            None => Ok(self.default.map(FieldDefault::to_value)),
        }
    }
}

/// A request's fields parsed against a route's schema.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldData(Map<String, Value>);

impl FieldData {
    pub fn string(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.0.get(name).and_then(Value::as_bool)
    }
    /// Integers and durations (in seconds).
    pub fn u64(&self, name: &str) -> Option<u64> {
        self.0.get(name).and_then(Value::as_u64)
    }
    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        let items = self.0.get(name)?.as_array()?;
        Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        )
    }
    pub fn map(&self, name: &str) -> Option<&Map<String, Value>> {
        self.0.get(name).and_then(Value::as_object)
    }
}

/// Why request data does not fit a route's schema (a 400 naming the field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The field is there but of the wrong type: (field, what it must be).
    WrongType(String, &'static str),
    /// A required field is absent.
    Missing(String),
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldError::WrongType(field, expected) => {
                write!(f, "field \"{field}\" must be {expected}")
            }
            FieldError::Missing(field) => write!(f, "missing required field \"{field}\""),
        }
    }
}

impl std::error::Error for FieldError {}

const DURATION: &str = "a duration (seconds or \"1h30m\")";

/// Seconds from integer seconds or a Go-style string (`""` is 0).
pub fn parse_duration(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0);
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Some(secs);
    }
    humantime::parse_duration(t).ok().map(|d| d.as_secs())
}

fn parse_u64(v: &Value) -> Result<Option<u64>, ()> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or(()),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => s.parse::<u64>().map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}

/// One present, non-null value as `kind` (`None`: what counts as absent,
/// such as `""` for an integer).
fn parse_value(name: &str, kind: FieldType, v: &Value) -> Result<Option<Value>, FieldError> {
    let wrong = |expected| FieldError::WrongType(name.to_string(), expected);
    Ok(match kind {
        FieldType::String => match v {
            Value::String(s) => Some(Value::from(s.as_str())),
            Value::Number(n) => Some(Value::from(n.to_string())),
            Value::Bool(b) => Some(Value::from(b.to_string())),
            _ => return Err(wrong("a string")),
        },
        FieldType::Bool => Some(Value::Bool(match v {
            Value::Bool(b) => *b,
            Value::String(s) if s.is_empty() => false,
            Value::String(s) => super::parse_bool(s).ok_or_else(|| wrong("a boolean"))?,
            Value::Number(n) => match n.as_u64() {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(wrong("a boolean")),
            },
            _ => return Err(wrong("a boolean")),
        })),
        FieldType::Int => parse_u64(v)
            .map_err(|_| wrong("a non-negative integer"))?
            .map(Value::from),
        FieldType::Duration => Some(Value::from(match v {
            Value::Number(n) => n.as_u64().ok_or_else(|| wrong(DURATION))?,
            Value::String(s) => parse_duration(s).ok_or_else(|| wrong(DURATION))?,
            _ => return Err(wrong(DURATION)),
        })),
        FieldType::StringList => Some(Value::from(match v {
            Value::String(s) => s
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>(),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(wrong("a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(wrong("a list of strings")),
        })),
        FieldType::IntList => {
            let items: Vec<Value> = match v {
                Value::Array(items) => items.clone(),
                Value::String(s) => s
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| Value::String(p.trim().to_string()))
                    .collect(),
                Value::Number(_) => vec![v.clone()],
                _ => return Err(wrong("a list of integers")),
            };
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                match parse_u64(item) {
                    Ok(Some(n)) => out.push(n),
                    _ => return Err(wrong("a list of integers")),
                }
            }
            Some(Value::from(out))
        }
        FieldType::StringMap => match v {
            Value::Object(m) if m.values().all(Value::is_string) => Some(v.clone()),
            _ => return Err(wrong("a map of strings")),
        },
        FieldType::Map => match v {
            Value::Object(_) => Some(v.clone()),
            _ => return Err(wrong("an object")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use Operation::*;

    const TABLE: &[Route] = &[
        Route::list("role/"),
        Route::new("role/:name", &[Read, Create, Update, Delete]),
        Route::new("role/:name/secret-id", &[Create, Update]),
        Route::list("role/:name/secret-id/"),
        Route::new("data/:path+", &[Read, Update]),
        Route::new("metadata/:path*", ALL_OPERATIONS),
        Route::new("login", &[Update]).unauthenticated(),
        Route::new("audit*", ALL_OPERATIONS).sudo(),
    ];

    /// The matched pattern and its captures.
    type Found<'p> = (&'static str, Vec<(&'static str, &'p str)>);

    fn caps(path: &str, op: Operation) -> Result<Found<'_>, RouteError> {
        let m = find(TABLE, path, op)?;
        let names = ["name", "path"];
        let got = names
            .iter()
            .filter(|n| m.route.pattern.contains(&format!(":{n}")))
            .map(|n| (*n, m.get(n)))
            .collect();
        Ok((m.pattern(), got))
    }

    #[test]
    fn captures_one_segment_and_the_rest() {
        assert_eq!(
            caps("role/web", Read),
            Ok(("role/:name", vec![("name", "web")]))
        );
        assert_eq!(
            caps("role/web/secret-id", Update),
            Ok(("role/:name/secret-id", vec![("name", "web")]))
        );
        assert_eq!(
            caps("data/a/b/c", Read),
            Ok(("data/:path+", vec![("path", "a/b/c")]))
        );
        assert_eq!(
            caps("metadata/a/b/", List),
            Ok(("metadata/:path*", vec![("path", "a/b/")]))
        );
        assert_eq!(
            caps("metadata/", List),
            Ok(("metadata/:path*", vec![("path", "")]))
        );
        assert_eq!(caps("audit-hash/file", Update).map(|c| c.0), Ok("audit*"));
        assert_eq!(caps("audit", Read).map(|c| c.0), Ok("audit*"));
        // an unknown capture name reads as empty
        let m = find(TABLE, "role/web", Read).unwrap();
        assert_eq!(m.get("nope"), "");
    }

    #[test]
    fn trailing_segments_are_significant() {
        // the folder is a different route from the entry
        assert_eq!(caps("role/", List).map(|c| c.0), Ok("role/"));
        assert_eq!(
            find(TABLE, "role", List).unwrap_err(),
            RouteError::UnsupportedPath
        );
        assert_eq!(
            caps("role/web/secret-id/", List),
            Ok(("role/:name/secret-id/", vec![("name", "web")]))
        );
        // a folder form of an entry route is no route at all
        assert_eq!(
            find(TABLE, "role/web/", List).unwrap_err(),
            RouteError::UnsupportedPath
        );
        // `+` names an entry: never empty, never a folder
        assert_eq!(
            find(TABLE, "data/", List).unwrap_err(),
            RouteError::UnsupportedPath
        );
        assert_eq!(
            find(TABLE, "data/a/", List).unwrap_err(),
            RouteError::UnsupportedPath
        );
        assert_eq!(
            find(TABLE, "data", Read).unwrap_err(),
            RouteError::UnsupportedPath
        );
        // more segments than the pattern
        assert_eq!(
            find(TABLE, "role/web/x", Read).unwrap_err(),
            RouteError::UnsupportedPath
        );
        assert_eq!(
            find(TABLE, "login/x", Update).unwrap_err(),
            RouteError::UnsupportedPath
        );
    }

    #[test]
    fn no_match_and_wrong_operation() {
        assert_eq!(
            find(TABLE, "", Read).unwrap_err(),
            RouteError::UnsupportedPath
        );
        assert_eq!(
            find(TABLE, "nope", Read).unwrap_err(),
            RouteError::UnsupportedPath
        );
        assert_eq!(
            find(TABLE, "role//x", Read).unwrap_err(),
            RouteError::UnsupportedPath
        );
        assert_eq!(
            find(TABLE, "role/web", Patch).unwrap_err(),
            RouteError::UnsupportedOperation
        );
        assert_eq!(
            find(TABLE, "data/a", List).unwrap_err(),
            RouteError::UnsupportedOperation
        );
        assert_eq!(
            find(TABLE, "data/a", Delete).unwrap_err(),
            RouteError::UnsupportedOperation
        );
        assert_eq!(
            find(TABLE, "login", Read).unwrap_err(),
            RouteError::UnsupportedOperation
        );
        // lookup ignores the operation
        assert_eq!(
            lookup(TABLE, "login").map(|m| m.route.unauthenticated),
            Some(true)
        );
        assert!(lookup(TABLE, "logins").is_none());
    }

    #[test]
    fn list_only_and_flags() {
        assert!(TABLE[0].list_only());
        assert!(TABLE[3].list_only());
        assert!(!TABLE[1].list_only());
        assert!(!TABLE[5].list_only());
        assert!(TABLE[7].sudo && !TABLE[1].sudo);
        assert!(find(TABLE, "role/", Read).is_err());
    }

    #[test]
    fn the_sample_table_has_no_overlap_and_overlaps_are_found() {
        assert_eq!(overlaps(TABLE), Vec::<String>::new());
        let bad = [
            Route::new("keys/:name", &[Read]),
            Route::new("keys/rotate", &[Update]),
            Route::new(":path*", &[Read]),
        ];
        let found = overlaps(&bad);
        assert!(
            found
                .iter()
                .any(|f| f.contains("keys/:name and keys/rotate")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|f| f.contains("keys/rotate and :path*")),
            "{found:?}"
        );
        let glob = [
            Route::new("audit*", &[Read]),
            Route::new("audit/:name", &[Read]),
        ];
        assert_eq!(overlaps(&glob).len(), 1, "{:?}", overlaps(&glob));
    }

    #[test]
    fn the_quick_test_never_rules_out_a_match() {
        let patterns = [
            "login",
            "role/",
            "role/:name",
            "role/:name/secret-id/",
            "role/:name/x/:other/y",
            "data/:path+",
            "m/:path*",
            "audit*",
            "mounts/*",
            ":path*",
            ":a/:b",
        ];
        let mut paths: Vec<String> = patterns.iter().flat_map(|p| samples(p)).collect();
        paths.extend(["", "/", "role//", "x/y/z/", "role/a/x/b/y"].map(String::from));
        for pattern in patterns {
            for path in &paths {
                if match_pattern(pattern, path, &mut None) {
                    assert!(may_match(pattern, path), "{pattern} {path:?}");
                }
            }
        }
    }

    #[test]
    fn bad_input_never_panics() {
        for p in [
            "",
            "/",
            "//",
            "a//",
            ":",
            "*",
            "role/:name",
            "\u{0}/x",
            "é/ü/",
        ] {
            for op in ALL_OPERATIONS {
                let _ = find(TABLE, p, *op);
            }
        }
    }

    const SCHEMA: &[Field] = &[
        Field::new("name", FieldType::String).required(),
        Field::new("ttl", FieldType::Duration).default(FieldDefault::Int(60)),
        Field::new("uses", FieldType::Int),
        Field::new("renew", FieldType::Bool).default(FieldDefault::Bool(true)),
        Field::new("policies", FieldType::StringList),
        Field::new("versions", FieldType::IntList),
        Field::new("meta", FieldType::StringMap),
        Field::new("options", FieldType::Map),
    ];

    fn data(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn fields_parse_with_defaults() {
        let r = Route::new("x", &[Update]).fields(SCHEMA);
        let d = r
            .parse(&data(
                json!({"name": 7, "ttl": "1h", "uses": "3", "policies": "a, b,",
                "versions": "1,2", "meta": {"k": "v"}, "options": {"n": 1}, "extra": [1]}),
            ))
            .unwrap();
        assert_eq!(d.string("name"), Some("7"));
        assert_eq!(d.u64("ttl"), Some(3600));
        assert_eq!(d.u64("uses"), Some(3));
        assert_eq!(d.bool("renew"), Some(true));
        assert_eq!(d.strings("policies"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(d.strings("nope"), None);
        assert_eq!(d.map("meta").map(|m| m.len()), Some(1));
        assert_eq!(d.map("options").map(|m| m.len()), Some(1));
        let d = r.parse(&data(json!({"name": "n", "uses": ""}))).unwrap();
        assert_eq!(d.u64("ttl"), Some(60));
        assert_eq!(d.u64("uses"), None);
    }

    #[test]
    fn wrong_types_are_errors_naming_the_field() {
        let r = Route::new("x", &[Update, Read]).fields(SCHEMA);
        let cases = [
            (
                json!({"name": "n", "ttl": "soon"}),
                "field \"ttl\" must be a duration",
            ),
            (
                json!({"name": "n", "ttl": -1}),
                "field \"ttl\" must be a duration",
            ),
            (
                json!({"name": "n", "uses": -2}),
                "field \"uses\" must be a non-negative integer",
            ),
            (
                json!({"name": "n", "renew": "maybe"}),
                "field \"renew\" must be a boolean",
            ),
            (
                json!({"name": "n", "policies": [{}]}),
                "field \"policies\" must be a list of strings",
            ),
            (
                json!({"name": "n", "versions": ["x"]}),
                "field \"versions\" must be a list of integers",
            ),
            (
                json!({"name": "n", "meta": {"k": 1}}),
                "field \"meta\" must be a map of strings",
            ),
            (
                json!({"name": "n", "options": []}),
                "field \"options\" must be an object",
            ),
            (json!({"name": {}}), "field \"name\" must be a string"),
            (json!({"ttl": 1}), "missing required field \"name\""),
        ];
        for (body, want) in cases {
            let e = r
                .validate(Update, &data(body.clone()))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{body}: {e}");
            // query parameters of reads are the handler's business
            assert!(r.validate(Read, &data(body)).is_ok());
        }
        assert!(r.validate(Update, &data(json!({"name": "n"}))).is_ok());
    }
}
