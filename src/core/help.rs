//! Path help: `GET /v1/<path>?help=1`, Vault's help response
//! (`{"help": "...", "openapi": {...}, "see_also": null}`), built from the
//! declared route tables: the route a path matches, its pattern, the
//! operations it serves, its fields and captures; on a mount's root, every
//! route of the mount.
//!
//! As Vault, help needs a valid token and nothing more (no capability on
//! the path): the pipeline calls [`help`] once the token is authenticated.
//! A path under no mount is 404, as is a path of a mount that no route
//! matches.
//!
//! Owns: the rendering of help. Must not touch: the tables themselves
//! (they belong to their backends and to [`super::sys_routes`]), or any
//! handler: asking for help never serves the path.

use serde_json::{json, Map, Value};

use super::sys_routes;
use super::{CoreError, Operation, Response};
use crate::logical::{fields, LogicalError};
use crate::router::Router;
use crate::sdk::route::{self, Field, FieldDefault, FieldType, Route};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether a read asks for help (`help` parsed as Go's `ParseBool`).
pub(crate) fn wants_help(op: Operation, data: &Map<String, Value>) -> bool {
    op == Operation::Read && matches!(fields::opt_bool(data, "help"), Ok(Some(true)))
}

/// What a path belongs to: the route table, the mount's path, the path
/// relative to it, and what is mounted there.
struct Target<'a> {
    table: &'static [Route],
    mount: String,
    rel: &'a str,
    kind: String,
    auth: bool,
}

fn target<'a>(mounts: &Router, auth: &Router, path: &'a str) -> Option<Target<'a>> {
    let fixed = |table, mount: &str, kind: &str, auth| {
        let rel = path
            .strip_prefix(mount)
            .or_else(|| path.strip_prefix(mount.trim_end_matches('/')))
            .unwrap_or("");
        Target {
            table,
            mount: mount.to_string(),
            rel: rel.trim_start_matches('/'),
            kind: kind.to_string(),
            auth,
        }
    };
    if path == "sys" || path.starts_with("sys/") {
        return Some(fixed(sys_routes::SYS, "sys/", "system", false));
    }
    if path == "auth/token" || path.starts_with("auth/token/") {
        return Some(fixed(sys_routes::TOKEN, "auth/token/", "token", true));
    }
    let is_auth = path.starts_with("auth/");
    let router = if is_auth { auth } else { mounts };
    let (mounted, rel) = router.route(path)?;
    Some(Target {
        table: mounted.backend.routes(mounted.entry.point()),
        mount: mounted.entry.path.clone(),
        rel: rel.trim_start_matches('/'),
        kind: mounted.entry.kind.clone(),
        auth: is_auth,
    })
}

/// The help response for `path` (see the module docs).
pub(crate) fn help(mounts: &Router, auth: &Router, path: &str) -> Result<Response, CoreError> {
    let Some(t) = target(mounts, auth, path) else {
        return Err(CoreError::UnsupportedPath(path.to_string()));
    };
    let rel = t.rel.trim_end_matches('/');
    let (text, routes): (String, Vec<&Route>) = if rel.is_empty() {
        (mount_help(&t), t.table.iter().collect())
    } else {
        let m = route::lookup(t.table, t.rel)
            .or_else(|| route::lookup(t.table, rel))
            .ok_or_else(|| LogicalError::UnsupportedPath(t.rel.to_string()))?;
        (route_help(t.rel, m.route), vec![m.route])
    };
    Ok(Response::raw(
        200,
        json!({
            "help": text,
            "openapi": openapi(&t.mount, &routes),
            "see_also": Value::Null,
        }),
    ))
}

fn mount_help(t: &Target<'_>) -> String {
    let what = if t.auth {
        "auth method"
    } else {
        "secrets engine"
    };
    let mut out = format!(
        "## DESCRIPTION\n\nThe {} {what} mounted at {}.\n\n## PATHS\n\n\
         The following paths are supported by this backend. To view help for\n\
         any of the paths below, use the help command with any route matching\n\
         the path pattern. Note that depending on the policy of your auth token,\n\
         you may or may not be able to access certain paths.\n\n",
        t.kind, t.mount
    );
    for r in t.table {
        out.push_str(&format!("    {}\n        {}\n\n", r.pattern, synopsis(r)));
    }
    out
}

fn route_help(rel: &str, r: &Route) -> String {
    let mut out = format!(
        "Request:        {rel}\nMatching Route: {}\n\n{}\n",
        r.pattern,
        synopsis(r)
    );
    let params = parameters(r);
    if !params.is_empty() {
        out.push_str("\n## PARAMETERS\n\n");
        for (name, kind, note) in params {
            out.push_str(&format!("    {name} ({kind})\n\n        {note}\n\n"));
        }
    }
    out.push_str("\n## DESCRIPTION\n\n");
    out.push_str(&format!(
        "This path responds to these operations: {}.\n",
        r.operations
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if r.sudo {
        out.push_str("It is root-protected: the token needs the \"sudo\" capability on it.\n");
    }
    if r.unauthenticated {
        out.push_str("It is served without a token.\n");
    }
    out
}

/// One line naming what the route does, from its operations.
fn synopsis(r: &Route) -> String {
    let mut verbs: Vec<&str> = Vec::new();
    for op in r.operations {
        let v = match op {
            Operation::Read => "read",
            Operation::List => "list",
            Operation::Create | Operation::Update => "write",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
        };
        if !verbs.contains(&v) {
            verbs.push(v);
        }
    }
    let mut s = match verbs.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let mut line = format!("{s} at this path.");
    if r.sudo {
        line.push_str(" Root-protected (sudo).");
    }
    line
}

/// The captures of the pattern, then the declared fields: (name, type,
/// note).
fn parameters(r: &Route) -> Vec<(String, &'static str, String)> {
    let mut out: Vec<(String, &'static str, String)> = captures(r.pattern)
        .into_iter()
        .map(|name| (name.to_string(), "string", "Part of the path.".to_string()))
        .collect();
    for f in r.fields {
        out.push((f.name.to_string(), type_name(f.kind), field_note(f)));
    }
    out
}

fn captures(pattern: &str) -> Vec<&str> {
    pattern
        .split('/')
        .filter_map(|seg| seg.strip_prefix(':'))
        .map(|seg| seg.trim_end_matches(['*', '+']))
        .collect()
}

fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "string",
        FieldType::Bool => "bool",
        FieldType::Int => "int",
        FieldType::Duration => "duration (sec)",
        FieldType::StringList => "comma-separated strings",
        FieldType::IntList => "comma-separated ints",
        FieldType::StringMap => "key-value map",
        FieldType::Map => "map",
    }
}

fn field_note(f: &Field) -> String {
    match (f.required, f.default) {
        (true, _) => "Required.".into(),
        (false, Some(FieldDefault::Bool(b))) => format!("Optional; default {b}."),
        (false, Some(FieldDefault::Int(n))) => format!("Optional; default {n}."),
        (false, Some(FieldDefault::Str(s))) => format!("Optional; default \"{s}\"."),
        (false, None) => "Optional.".into(),
    }
}

fn schema_type(kind: FieldType) -> Value {
    match kind {
        FieldType::String => json!({"type": "string"}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Int => json!({"type": "integer"}),
        FieldType::Duration => json!({"type": "string", "format": "duration"}),
        FieldType::StringList => json!({"type": "array", "items": {"type": "string"}}),
        FieldType::IntList => json!({"type": "array", "items": {"type": "integer"}}),
        FieldType::StringMap | FieldType::Map => json!({"type": "object"}),
    }
}

/// An OpenAPI 3 document of `routes` (paths relative to the mount, as
/// Vault's help gives them).
fn openapi(mount: &str, routes: &[&Route]) -> Value {
    let mut paths = Map::new();
    for r in routes {
        let mut templated = String::from("/");
        templated.push_str(
            &r.pattern
                .split('/')
                .map(|seg| match seg.strip_prefix(':') {
                    Some(name) => format!("{{{}}}", name.trim_end_matches(['*', '+'])),
                    None => seg.to_string(),
                })
                .collect::<Vec<_>>()
                .join("/"),
        );
        let parameters: Vec<Value> = captures(r.pattern)
            .into_iter()
            .map(|name| {
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
            })
            .collect();
        let mut item = Map::new();
        item.insert("description".into(), json!(synopsis(r)));
        item.insert("parameters".into(), json!(parameters));
        if r.unauthenticated {
            item.insert("x-vault-unauthenticated".into(), json!(true));
        }
        if r.sudo {
            item.insert("x-vault-sudo".into(), json!(true));
        }
        let id = |verb: &str| {
            format!("{verb}-{}{}", mount.trim_end_matches('/'), templated)
                .replace(['/', '{', '}', ':'], "-")
                .replace("--", "-")
                .trim_end_matches('-')
                .to_string()
        };
        let ok = json!({"200": {"description": "OK"}});
        if r.serves(Operation::Read) {
            item.insert(
                "get".into(),
                json!({"operationId": id("read"), "responses": ok}),
            );
        } else if r.serves(Operation::List) {
            item.insert(
                "get".into(),
                json!({
                    "operationId": id("list"),
                    "parameters": [{"name": "list", "in": "query", "required": true,
                                    "schema": {"type": "string", "enum": ["true"]}}],
                    "responses": ok,
                }),
            );
        }
        if r.serves(Operation::Create) || r.serves(Operation::Update) {
            let mut props = Map::new();
            let mut required = Vec::new();
            for f in r.fields {
                props.insert(f.name.to_string(), schema_type(f.kind));
                if f.required {
                    required.push(f.name);
                }
            }
            item.insert(
                "post".into(),
                json!({
                    "operationId": id("write"),
                    "requestBody": {"content": {"application/json": {"schema": {
                        "type": "object", "properties": props, "required": required,
                    }}}},
                    "responses": ok,
                }),
            );
        }
        if r.serves(Operation::Patch) {
            item.insert(
                "patch".into(),
                json!({"operationId": id("patch"), "responses": ok}),
            );
        }
        if r.serves(Operation::Delete) {
            item.insert(
                "delete".into(),
                json!({"operationId": id("delete"), "responses": {"204": {"description": "empty body"}}}),
            );
        }
        paths.insert(templated, Value::Object(item));
    }
    json!({
        "openapi": "3.0.2",
        "info": {
            "title": "vault-rs API",
            "description": "HTTP API of vault-rs. All API routes are prefixed with `/v1/`.",
            "version": VERSION,
        },
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::route::ALL_OPERATIONS;

    const FIELDS: &[Field] = &[
        Field::new("versions", FieldType::IntList),
        Field::new("depth", FieldType::Int).default(FieldDefault::Int(0)),
    ];

    #[test]
    fn route_help_names_pattern_operations_and_fields() {
        let r = Route::new("delete/:path*", &[Operation::Create, Operation::Update]).fields(FIELDS);
        let text = route_help("delete/a/b", &r);
        assert!(text.starts_with("Request:        delete/a/b\nMatching Route: delete/:path*\n"));
        assert!(text.contains("Write at this path."), "{text}");
        assert!(text.contains("    path (string)"), "{text}");
        assert!(
            text.contains("    versions (comma-separated ints)"),
            "{text}"
        );
        assert!(text.contains("Optional; default 0."), "{text}");
        assert!(text.contains("## DESCRIPTION"), "{text}");
        assert!(text.contains("create, update"), "{text}");
        let doc = openapi("secret/", &[&r]);
        let item = &doc["paths"]["/delete/{path}"];
        assert_eq!(item["parameters"][0]["name"], "path");
        assert!(
            item.get("post").is_some() && item.get("get").is_none(),
            "{doc}"
        );
        assert_eq!(
            item["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
                ["versions"]["type"],
            "array"
        );
    }

    #[test]
    fn synopsis_reads_as_a_sentence() {
        assert_eq!(
            synopsis(&Route::new("x", ALL_OPERATIONS)),
            "Read, list, write, patch and delete at this path."
        );
        assert_eq!(
            synopsis(&Route::list("x/").sudo()),
            "List at this path. Root-protected (sudo)."
        );
        assert_eq!(captures("role/:name/secret-id/:rest*"), ["name", "rest"]);
    }

    #[test]
    fn only_a_true_help_parameter_asks_for_help() {
        let m = |v: Value| v.as_object().cloned().unwrap();
        assert!(wants_help(Operation::Read, &m(json!({"help": "1"}))));
        assert!(wants_help(Operation::Read, &m(json!({"help": "True"}))));
        assert!(!wants_help(Operation::Read, &m(json!({"help": "0"}))));
        assert!(!wants_help(Operation::Read, &m(json!({"help": "maybe"}))));
        assert!(!wants_help(Operation::Read, &m(json!({}))));
        assert!(!wants_help(Operation::Update, &m(json!({"help": "1"}))));
    }
}
