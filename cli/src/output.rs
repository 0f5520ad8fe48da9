//! Output formatting: Vault-style tables, JSON, and raw `--field` values.
//!
//! Owns: the `--format` choice, the column layout (`Key    Value` headers
//! with a dashed underline, four spaces between columns, `n/a` for empty
//! cells), how JSON values look in a table (Go's `%v`: `[a b]`,
//! `map[k:v]`, `<nil>`), human durations for TTL-like keys, the section
//! headers of `kv get` (`====== Data ======`), and writing to stdout:
//! `-field` values without a trailing newline when stdout is not a
//! terminal, as `vault` does. The JSON and YAML text itself comes from
//! [`crate::vault_format`].

use std::io::{IsTerminal, Write};

use serde_json::{Map, Value};

use crate::error::CliError;
use crate::vault_format;

/// Gap between two table columns.
const COLUMN_GLUE: &str = "    ";
/// Shown in a table cell whose value is empty.
const EMPTY_CELL: &str = "n/a";

/// `--format`: how command results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable columns, like `vault`'s default output.
    Table,
    /// JSON, as `vault -format=json` prints it.
    Json,
    /// YAML, as `vault -format=yaml` prints it.
    Yaml,
}

/// The output settings of one invocation (`--format`, `--field`).
#[derive(Clone, Debug)]
pub struct Output {
    pub format: Format,
    pub field: Option<String>,
}

impl Output {
    /// Whether results are printed as tables.
    pub fn is_table(&self) -> bool {
        self.format == Format::Table
    }

    /// Prints a whole API response (envelope with `data`, `auth`, lease…):
    /// one field with `--field`, the body with `--format json`, else a table.
    pub fn secret(&self, body: &Value) -> Result<(), CliError> {
        if let Some(raw) = body.as_object().filter(|_| !is_envelope(body)) {
            return self.map(raw);
        }
        if let Some(field) = &self.field {
            let value = secret_field(body, field).ok_or_else(|| missing_field(field))?;
            return self.raw(&value);
        }
        match self.format {
            Format::Json => emit(&vault_format::secret_json(body)),
            Format::Yaml => emit_raw(&vault_format::secret_yaml(body)),
            Format::Table => {
                print_warnings(body);
                let rows = secret_rows(body);
                if rows.is_empty() {
                    return Ok(());
                }
                emit(&key_value_table(&rows))
            }
        }
    }

    /// Prints a plain map (no envelope): one field, JSON, or a table.
    pub fn map(&self, map: &Map<String, Value>) -> Result<(), CliError> {
        if let Some(field) = &self.field {
            let value = map.get(field).ok_or_else(|| missing_field(field))?;
            return self.raw(value);
        }
        match self.format {
            Format::Json | Format::Yaml => self.structured(&Value::Object(map.clone())),
            Format::Table => {
                let rows = map_rows(map);
                if rows.is_empty() {
                    return Ok(());
                }
                emit(&key_value_table(&rows))
            }
        }
    }

    /// Prints the `keys` of a LIST reply: a `Keys` column, or a JSON array.
    pub fn list(&self, body: &Value) -> Result<(), CliError> {
        if self.field.is_some() {
            return self.secret(body);
        }
        let keys = list_keys(body);
        match self.format {
            Format::Json | Format::Yaml => {
                self.structured(&Value::Array(keys.into_iter().map(Value::String).collect()))
            }
            Format::Table => {
                print_warnings(body);
                if keys.is_empty() {
                    return Ok(());
                }
                emit(&single_column("Keys", &keys))
            }
        }
    }

    /// Prints one value the way `--field` does: raw text for tables
    /// (strings without quotes), JSON or YAML for those formats; no
    /// newline after it when stdout is not a terminal, so pipes and
    /// `$(vault-rs … -field=x)` get the bare value, as with `vault`.
    pub fn raw(&self, value: &Value) -> Result<(), CliError> {
        let text = match self.format {
            Format::Json => vault_format::json(value),
            Format::Yaml => vault_format::yaml(value),
            Format::Table => format_value(value),
        };
        if std::io::stdout().is_terminal() {
            emit(&text)
        } else {
            emit_raw(&text)
        }
    }

    /// Prints a value as JSON or YAML (whichever the format is; JSON for
    /// a table).
    pub fn structured(&self, value: &Value) -> Result<(), CliError> {
        match self.format {
            Format::Yaml => emit_raw(&vault_format::yaml(value)),
            Format::Json | Format::Table => print_json(value),
        }
    }

    /// Prints a whole reply as `-format=json` or `-format=yaml` do (Vault's
    /// envelope), whether or not it has one.
    pub fn envelope(&self, body: &Value) -> Result<(), CliError> {
        match self.format {
            Format::Yaml => emit_raw(&vault_format::secret_yaml(body)),
            Format::Json | Format::Table => emit(&vault_format::secret_json(body)),
        }
    }
}

fn missing_field(field: &str) -> CliError {
    CliError::failed(format!("Field \"{field}\" not present in secret"))
}

/// Writes `text` and a newline to stdout.
pub fn emit(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|error| CliError::failed(format!("cannot write to stdout: {error}")))
}

/// Writes `text` to stdout as it is.
pub fn emit_raw(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|error| CliError::failed(format!("cannot write to stdout: {error}")))
}

/// Writes `value` as indented JSON to stdout, as Go's encoder does.
pub fn print_json(value: &Value) -> Result<(), CliError> {
    emit(&vault_format::json(value))
}

/// Writes the reply's `warnings` to stderr, like Vault does.
pub fn print_warnings(body: &Value) {
    let Some(warnings) = body.get("warnings").and_then(Value::as_array) else {
        return;
    };
    if warnings.is_empty() {
        return;
    }
    eprintln!("WARNING! The following warnings were returned from Vault:\n");
    for warning in warnings {
        eprintln!("  * {}\n", format_value(warning));
    }
}

/// Whether a reply has Vault's envelope (`request_id`, `data`, …); some
/// `sys/` endpoints answer with a bare object instead.
pub fn is_envelope(body: &Value) -> bool {
    ["request_id", "data", "auth", "lease_id"]
        .iter()
        .any(|key| body.get(key).is_some())
}

/// The `data` object of a reply, if there is one.
pub fn data_of(body: &Value) -> Option<&Map<String, Value>> {
    body.get("data").and_then(Value::as_object)
}

/// The `data` object of a reply, or the body itself for the raw `sys/`
/// replies that have no envelope.
pub fn data_or_body(body: &Value) -> Option<&Map<String, Value>> {
    data_of(body).or_else(|| body.as_object())
}

/// The strings in `data.keys` of a LIST reply.
pub fn list_keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body
        .get("data")
        .and_then(|data| data.get("keys"))
        .and_then(Value::as_array)
        .map(|keys| keys.iter().map(format_value).collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// Formats a JSON value like Go's `%v` on the decoded value.
pub fn format_value(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(format_value).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|key| format!("{key}:{}", format_value(&map[key])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Formats a list of strings like Go's `%q` on a `[]string`: `["a" "b"]`.
fn format_quoted_list(value: &Value) -> String {
    let items: Vec<String> = value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| format!("{:?}", format_value(item)))
                .collect()
        })
        .unwrap_or_default();
    format!("[{}]", items.join(" "))
}

/// Whether a key names a duration (Vault's `looksLikeDuration`).
pub fn looks_like_duration(key: &str) -> bool {
    key == "period"
        || key.ends_with("_period")
        || key == "ttl"
        || key.ends_with("_ttl")
        || key == "duration"
        || key.ends_with("_duration")
        || key == "lease_max"
        || key == "ttl_max"
}

/// An integer number of seconds as a human duration (`768h`, `1h30m`,
/// `45s`); any other value formatted as usual.
pub fn human_duration_value(value: &Value) -> String {
    match value.as_i64() {
        Some(seconds) => human_duration(seconds),
        None => format_value(value),
    }
}

/// Seconds as Go's `time.Duration` string with zero minutes and seconds
/// trimmed, like Vault's `humanDuration`.
pub fn human_duration(seconds: i64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let sign = if seconds < 0 { "-" } else { "" };
    let total = seconds.unsigned_abs();
    let (hours, minutes, secs) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut text = String::from(sign);
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if secs > 0 || (hours == 0 && minutes == 0) {
        text.push_str(&format!("{secs}s"));
    }
    text
}

/// One table cell for `key`'s `value` (durations humanized).
fn cell(key: &str, value: &Value) -> String {
    if looks_like_duration(key) {
        human_duration_value(value)
    } else {
        format_value(value)
    }
}

/// The rows of a plain map, sorted by key.
pub fn map_rows(map: &Map<String, Value>) -> Vec<(String, String)> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|key| (key.clone(), cell(key, &map[key])))
        .collect()
}

/// The rows Vault prints for a whole reply: lease, auth, wrap info, data.
pub fn secret_rows(body: &Value) -> Vec<(String, String)> {
    let mut rows = lease_rows(body);
    if let Some(auth) = body.get("auth").filter(|auth| auth.is_object()) {
        rows.extend(auth_rows(auth));
    }
    if let Some(wrap) = body.get("wrap_info").filter(|wrap| wrap.is_object()) {
        rows.extend(wrap_rows(wrap));
    }
    if let Some(data) = data_of(body) {
        rows.extend(map_rows(data));
    }
    rows
}

fn lease_rows(body: &Value) -> Vec<(String, String)> {
    let duration = body
        .get("lease_duration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if duration <= 0 {
        return Vec::new();
    }
    let lease_id = body.get("lease_id").and_then(Value::as_str).unwrap_or("");
    if lease_id.is_empty() {
        return vec![("refresh_interval".to_owned(), human_duration(duration))];
    }
    let renewable = body.get("renewable").cloned().unwrap_or(Value::Bool(false));
    vec![
        ("lease_id".to_owned(), lease_id.to_owned()),
        ("lease_duration".to_owned(), human_duration(duration)),
        ("lease_renewable".to_owned(), format_value(&renewable)),
    ]
}

fn auth_rows(auth: &Value) -> Vec<(String, String)> {
    let text = |key: &str| auth.get(key).map(format_value).unwrap_or_default();
    let duration = auth
        .get("lease_duration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let duration = if duration == 0 {
        "∞".to_owned()
    } else {
        human_duration(duration)
    };
    let mut rows = vec![
        ("token".to_owned(), text("client_token")),
        ("token_accessor".to_owned(), text("accessor")),
        ("token_duration".to_owned(), duration),
        ("token_renewable".to_owned(), text("renewable")),
    ];
    for key in ["token_policies", "identity_policies", "policies"] {
        let list = auth.get(key).cloned().unwrap_or(Value::Null);
        rows.push((key.to_owned(), format_quoted_list(&list)));
    }
    if let Some(metadata) = auth.get("metadata").and_then(Value::as_object) {
        for (key, value) in map_rows(metadata) {
            rows.push((format!("token_meta_{key}"), value));
        }
    }
    rows
}

fn wrap_rows(wrap: &Value) -> Vec<(String, String)> {
    let text = |key: &str| wrap.get(key).map(format_value).unwrap_or_default();
    let mut rows = vec![
        ("wrapping_token:".to_owned(), text("token")),
        ("wrapping_accessor:".to_owned(), text("accessor")),
        (
            "wrapping_token_ttl:".to_owned(),
            wrap.get("ttl")
                .map(human_duration_value)
                .unwrap_or_default(),
        ),
        (
            "wrapping_token_creation_time:".to_owned(),
            text("creation_time"),
        ),
        (
            "wrapping_token_creation_path:".to_owned(),
            text("creation_path"),
        ),
    ];
    let wrapped = text("wrapped_accessor");
    if !wrapped.is_empty() {
        rows.push(("wrapped_accessor:".to_owned(), wrapped));
    }
    rows
}

/// The value `--field NAME` selects in a whole reply: auth fields first,
/// then wrap info, then `data`, then the lease fields.
pub fn secret_field(body: &Value, field: &str) -> Option<Value> {
    if let Some(auth) = body.get("auth").filter(|auth| auth.is_object()) {
        if let Some(value) = auth_field(auth, field) {
            return Some(value);
        }
    }
    if let Some(wrap) = body.get("wrap_info").filter(|wrap| wrap.is_object()) {
        if let Some(value) = wrap_field(wrap, field) {
            return Some(value);
        }
    }
    if let Some(value) = data_of(body).and_then(|data| data.get(field)) {
        return Some(value.clone());
    }
    lease_field(body, field)
}

fn auth_field(auth: &Value, field: &str) -> Option<Value> {
    let key = match field {
        "token" => "client_token",
        "token_accessor" => "accessor",
        "token_duration" => "lease_duration",
        "token_renewable" => "renewable",
        "token_policies" | "identity_policies" | "policies" => field,
        _ => {
            let meta = field.strip_prefix("token_meta_")?;
            return auth.get("metadata").and_then(|m| m.get(meta)).cloned();
        }
    };
    auth.get(key).cloned()
}

fn wrap_field(wrap: &Value, field: &str) -> Option<Value> {
    let key = match field {
        "wrapping_token" => "token",
        "wrapping_accessor" => "accessor",
        "wrapping_token_ttl" => "ttl",
        "wrapping_token_creation_time" => "creation_time",
        "wrapping_token_creation_path" => "creation_path",
        "wrapped_accessor" => "wrapped_accessor",
        _ => return None,
    };
    wrap.get(key).cloned()
}

fn lease_field(body: &Value, field: &str) -> Option<Value> {
    let key = match field {
        "lease_id" => "lease_id",
        "lease_duration" | "refresh_interval" => "lease_duration",
        "lease_renewable" => "renewable",
        _ => return None,
    };
    body.get(key).cloned()
}

/// A two-column `Key`/`Value` table.
pub fn key_value_table(rows: &[(String, String)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(key, value)| vec![key.clone(), value.clone()])
        .collect();
    table(&["Key", "Value"], &rows)
}

/// A one-column table with a header (like `Keys`).
pub fn single_column(header: &str, items: &[String]) -> String {
    let rows: Vec<Vec<String>> = items.iter().map(|item| vec![item.clone()]).collect();
    table(&[header], &rows)
}

/// Columns with a header, a dashed underline, four spaces between columns,
/// `n/a` in empty cells, and no padding after the last column.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut lines: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 2);
    lines.push(header.iter().map(|h| (*h).to_owned()).collect());
    lines.push(
        header
            .iter()
            .map(|h| "-".repeat(h.chars().count()))
            .collect(),
    );
    lines.extend(rows.iter().cloned());
    columns(&lines)
}

/// Aligned columns without a header (Vault's `columnOutput`).
pub fn columns(rows: &[Vec<String>]) -> String {
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| normalize_cell(c)).collect())
        .collect();
    let widths = column_widths(&lines);
    let rendered: Vec<String> = lines
        .iter()
        .map(|line| render_line(line, &widths))
        .collect();
    rendered.join("\n")
}

fn normalize_cell(cell: &str) -> String {
    let trimmed = cell.trim();
    if trimmed.is_empty() {
        EMPTY_CELL.to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn column_widths(lines: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = Vec::new();
    for line in lines {
        for (index, cell) in line.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(index) {
                Some(current) => *current = (*current).max(width),
                None => widths.push(width),
            }
        }
    }
    widths
}

fn render_line(line: &[String], widths: &[usize]) -> String {
    let mut text = String::new();
    for (index, cell) in line.iter().enumerate() {
        let last = index + 1 == line.len();
        if last {
            text.push_str(cell);
        } else {
            let width = widths.get(index).copied().unwrap_or(0);
            let padding = width.saturating_sub(cell.chars().count());
            text.push_str(cell);
            text.push_str(&" ".repeat(padding));
            text.push_str(COLUMN_GLUE);
        }
    }
    text
}

/// `header` centred in equal signs to `total_len`, like Vault's
/// `padEqualSigns` (at least two on each side, same count on both).
pub fn pad_equal_signs(header: &str, total_len: usize) -> String {
    let header_len = header.chars().count() + 2;
    let mut signs = total_len.saturating_sub(header_len);
    if signs == 0 {
        signs = 4;
    }
    if !signs.is_multiple_of(2) {
        signs += 1;
    }
    let side = "=".repeat(signs / 2);
    format!("{side} {header} {side}")
}

/// The section header Vault prints above the table of `map`
/// (`getHeaderForMap`): as wide as the longest key plus `    Value`.
pub fn header_for_map(header: &str, map: &Map<String, Value>) -> String {
    let longest = map.keys().map(|key| key.chars().count()).max().unwrap_or(0);
    pad_equal_signs(header, longest + COLUMN_GLUE.len() + "Value".len())
}

/// The `== Secret Path ==` block: a header as wide as the path, the path,
/// and an empty line.
pub fn path_header(title: &str, path: &str) -> String {
    format!("{}\n{path}\n", pad_equal_signs(title, path.chars().count()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_value_table_aligns_columns() {
        let rows = vec![
            ("refresh_interval".to_owned(), "768h".to_owned()),
            ("foo".to_owned(), "bar".to_owned()),
            ("empty".to_owned(), String::new()),
        ];
        assert_eq!(
            key_value_table(&rows),
            "Key                 Value\n\
             ---                 -----\n\
             refresh_interval    768h\n\
             foo                 bar\n\
             empty               n/a"
        );
    }

    #[test]
    fn list_table() {
        let keys = vec!["a".to_owned(), "bb/".to_owned()];
        assert_eq!(single_column("Keys", &keys), "Keys\n----\na\nbb/");
    }

    #[test]
    fn go_value_formatting() {
        assert_eq!(format_value(&json!(null)), "<nil>");
        assert_eq!(format_value(&json!("x")), "x");
        assert_eq!(format_value(&json!(3)), "3");
        assert_eq!(format_value(&json!(["a", 1])), "[a 1]");
        assert_eq!(format_value(&json!({"b": 1, "a": "x"})), "map[a:x b:1]");
        assert_eq!(
            format_quoted_list(&json!(["default", "root"])),
            "[\"default\" \"root\"]"
        );
        assert_eq!(format_quoted_list(&json!(null)), "[]");
    }

    #[test]
    fn durations_like_vault() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(90), "1m30s");
        assert_eq!(human_duration(120), "2m");
        assert_eq!(human_duration(3600), "1h");
        assert_eq!(human_duration(5400), "1h30m");
        assert_eq!(human_duration(3601), "1h1s");
        assert_eq!(human_duration(2_764_800), "768h");
        assert_eq!(human_duration(-5), "-5s");
        assert_eq!(human_duration_value(&json!("1h")), "1h");
    }

    #[test]
    fn equal_sign_headers() {
        assert_eq!(pad_equal_signs("Data", 12), "=== Data ===");
        assert_eq!(pad_equal_signs("Data", 3), "== Data ==");
        assert_eq!(pad_equal_signs("Secret Path", 17), "== Secret Path ==");
        assert_eq!(pad_equal_signs("Secret Path", 15), "= Secret Path =");
        let map = json!({"created_time": 1, "version": 2});
        let map = map.as_object().cloned().unwrap_or_default();
        assert_eq!(header_for_map("Metadata", &map), "====== Metadata ======");
    }

    #[test]
    fn secret_rows_cover_lease_auth_and_data() {
        let body = json!({
            "lease_id": "", "lease_duration": 2764800, "renewable": false,
            "data": {"foo": "bar", "ttl": 60},
            "auth": null, "wrap_info": null
        });
        let rows = secret_rows(&body);
        assert_eq!(
            rows,
            vec![
                ("refresh_interval".to_owned(), "768h".to_owned()),
                ("foo".to_owned(), "bar".to_owned()),
                ("ttl".to_owned(), "1m".to_owned()),
            ]
        );
    }

    #[test]
    fn auth_rows_and_fields() {
        let body = json!({
            "lease_duration": 0, "data": null,
            "auth": {"client_token": "hvs.x", "accessor": "acc", "lease_duration": 0,
                     "renewable": false, "policies": ["root"], "token_policies": ["root"],
                     "identity_policies": null, "metadata": {"user": "bob"}}
        });
        let rows = secret_rows(&body);
        assert_eq!(rows[0], ("token".to_owned(), "hvs.x".to_owned()));
        assert_eq!(rows[2], ("token_duration".to_owned(), "∞".to_owned()));
        assert_eq!(
            rows[4],
            ("token_policies".to_owned(), "[\"root\"]".to_owned())
        );
        assert_eq!(rows[7], ("token_meta_user".to_owned(), "bob".to_owned()));
        assert_eq!(secret_field(&body, "token"), Some(json!("hvs.x")));
        assert_eq!(secret_field(&body, "token_meta_user"), Some(json!("bob")));
        assert_eq!(secret_field(&body, "nope"), None);
    }

    #[test]
    fn bare_replies_are_not_envelopes() {
        assert!(is_envelope(&json!({"request_id": "x", "data": null})));
        assert!(!is_envelope(&json!({"sealed": false, "t": 1})));
    }

    #[test]
    fn list_keys_sorted() {
        let body = json!({"data": {"keys": ["b", "a/", "a"]}});
        assert_eq!(list_keys(&body), vec!["a", "a/", "b"]);
    }
}
