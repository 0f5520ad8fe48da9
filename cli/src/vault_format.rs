//! `-format=json` and `-format=yaml` output, byte for byte as Vault's CLI
//! prints it, so that scripts written against `vault` keep working.
//!
//! Owns: the shape of a printed response (Vault's `api.Secret`: the fields
//! `request_id`, `lease_id`, `lease_duration`, `renewable`, `data`,
//! `warnings`, then `auth` and `wrap_info` only when present, each with
//! Go's zero value when the server left it out); JSON as Go's
//! `json.MarshalIndent` writes it (two-space indent, `<`, `>`, `&`, U+2028
//! and U+2029 escaped); YAML as Vault's YAML printer writes it (keys in
//! natural order, YAML 1.1 quoting rules, plain scalars folded past column
//! 80). It does not decide what a command prints, only how.

use serde_json::{Map, Value};

/// The top-level fields of a response, in the order Vault prints them,
/// with the value each takes when the reply leaves it out.
const SECRET_FIELDS: [(&str, Zero); 6] = [
    ("request_id", Zero::Str),
    ("lease_id", Zero::Str),
    ("lease_duration", Zero::Int),
    ("renewable", Zero::Bool),
    ("data", Zero::Null),
    ("warnings", Zero::Null),
];

/// The fields of `auth`, in Vault's order.
const AUTH_FIELDS: [(&str, Zero); 11] = [
    ("client_token", Zero::Str),
    ("accessor", Zero::Str),
    ("policies", Zero::Null),
    ("token_policies", Zero::Null),
    ("identity_policies", Zero::Null),
    ("metadata", Zero::Null),
    ("orphan", Zero::Bool),
    ("entity_id", Zero::Str),
    ("lease_duration", Zero::Int),
    ("renewable", Zero::Bool),
    ("mfa_requirement", Zero::Null),
];

/// The fields of `wrap_info`, in Vault's order.
const WRAP_FIELDS: [(&str, Zero); 6] = [
    ("token", Zero::Str),
    ("accessor", Zero::Str),
    ("ttl", Zero::Int),
    ("creation_time", Zero::Str),
    ("creation_path", Zero::Str),
    ("wrapped_accessor", Zero::Str),
];

/// Go's zero value of a struct field.
#[derive(Clone, Copy)]
enum Zero {
    Str,
    Int,
    Bool,
    Null,
}

impl Zero {
    fn value(self) -> Value {
        match self {
            Zero::Str => Value::String(String::new()),
            Zero::Int => Value::from(0),
            Zero::Bool => Value::Bool(false),
            Zero::Null => Value::Null,
        }
    }
}

/// A JSON value whose object keys keep a chosen order (serde_json's maps
/// are sorted, as Go sorts map keys, but Go prints struct fields in
/// declaration order).
enum Node {
    Leaf(Value),
    Fields(Vec<(String, Node)>),
}

fn fields(source: Option<&Map<String, Value>>, layout: &[(&str, Zero)]) -> Vec<(String, Node)> {
    layout
        .iter()
        .map(|(name, zero)| {
            let value = source
                .and_then(|map| map.get(*name))
                .cloned()
                .unwrap_or_else(|| zero.value());
            ((*name).to_owned(), Node::Leaf(value))
        })
        .collect()
}

/// A reply as Vault's `api.Secret`.
fn secret_node(body: &Value) -> Node {
    let top = body.as_object();
    let mut out = fields(top, &SECRET_FIELDS);
    for (name, layout) in [("auth", &AUTH_FIELDS[..]), ("wrap_info", &WRAP_FIELDS[..])] {
        if let Some(inner) = top.and_then(|top| top.get(name)).and_then(Value::as_object) {
            out.push((name.to_owned(), Node::Fields(fields(Some(inner), layout))));
        }
    }
    Node::Fields(out)
}

/// A reply printed as `vault … -format=json` prints a secret.
pub fn secret_json(body: &Value) -> String {
    let mut out = String::new();
    write_node_json(&mut out, &secret_node(body), 0);
    go_html_escape(&out)
}

/// Any value as Go's `json.MarshalIndent(v, "", "  ")`.
pub fn json(value: &Value) -> String {
    let mut out = String::new();
    write_node_json(&mut out, &Node::Leaf(value.clone()), 0);
    go_html_escape(&out)
}

fn write_node_json(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Leaf(value) => {
            let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
            let pad = format!("\n{}", " ".repeat(indent));
            out.push_str(&text.replace('\n', &pad));
        }
        Node::Fields(entries) => {
            if entries.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (index, (key, child)) in entries.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 2));
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_node_json(out, child, indent + 2);
                if index + 1 < entries.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
    }
}

/// Go's encoder escapes these inside strings; they appear nowhere else in
/// JSON text, so replacing them everywhere is exact.
fn go_html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

/// A reply printed as `vault … -format=yaml` prints a secret.
pub fn secret_yaml(body: &Value) -> String {
    yaml(&node_to_value(secret_node(body)))
}

fn node_to_value(node: Node) -> Value {
    match node {
        Node::Leaf(value) => value,
        Node::Fields(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, child)| (key, node_to_value(child)))
                .collect(),
        ),
    }
}

/// Column past which plain and single-quoted scalars are folded.
const YAML_WIDTH: usize = 80;

/// Any value as YAML, the way Vault's YAML printer writes it; ends with a
/// newline.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => yaml_map(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => yaml_seq(&mut out, items, 0, false),
        other => {
            yaml_inline(&mut out, other, 2);
            out.push('\n');
        }
    }
    out
}

/// Writes a scalar or an empty collection after whatever is on the line.
fn yaml_inline(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&yaml_number(number)),
        Value::String(text) => yaml_string(out, text, indent),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn is_collection(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    }
}

/// A block mapping at `indent`; with `inline_first`, the first key goes on
/// the current line (after `- `).
fn yaml_map(out: &mut String, map: &Map<String, Value>, indent: usize, inline_first: bool) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| natural_order(a, b));
    for (index, key) in keys.into_iter().enumerate() {
        if index > 0 || !inline_first {
            out.push_str(&" ".repeat(indent));
        }
        yaml_string(out, key, indent);
        out.push(':');
        let value = &map[key];
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml_map(out, inner, indent + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                yaml_seq(out, items, indent, false);
            }
            other => {
                out.push(' ');
                yaml_inline(out, other, indent + 2);
                out.push('\n');
            }
        }
    }
}

/// A block sequence at `indent` (`- item` lines).
fn yaml_seq(out: &mut String, items: &[Value], indent: usize, inline_first: bool) {
    for (index, item) in items.iter().enumerate() {
        if index > 0 || !inline_first {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match item {
            Value::Object(inner) if is_collection(item) => yaml_map(out, inner, indent + 2, true),
            Value::Array(inner) if is_collection(item) => yaml_seq(out, inner, indent + 2, true),
            other => {
                yaml_inline(out, other, indent + 2);
                out.push('\n');
            }
        }
    }
}

/// A JSON number as YAML prints the value it decodes to.
fn yaml_number(number: &serde_json::Number) -> String {
    if number.is_i64() || number.is_u64() {
        return number.to_string();
    }
    number.as_f64().map_or_else(|| number.to_string(), go_float)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, with YAML's names for
/// infinities.
fn go_float(value: f64) -> String {
    if value.is_nan() {
        return ".nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    let scientific = format!("{value:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return value.to_string();
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs());
    }
    value.to_string()
}

/// How one string is written: plain, single-quoted, double-quoted or as a
/// literal block.
fn yaml_string(out: &mut String, text: &str, indent: usize) {
    let special = text.chars().any(|c| c != '\n' && !yaml_printable(c));
    if text.contains('\n') {
        let space_before_break = text.contains(" \n");
        if special || space_before_break || text.ends_with(' ') {
            yaml_double_quoted(out, text);
        } else {
            yaml_literal(out, text, indent);
        }
        return;
    }
    if resolves_to_non_string(text) {
        yaml_double_quoted(out, text);
    } else if plain_allowed(text) {
        write_folded(out, text, indent, false);
    } else if special {
        yaml_double_quoted(out, text);
    } else {
        out.push('\'');
        write_folded(out, &text.replace('\'', "''"), indent, true);
        out.push('\'');
    }
}

/// Writes `text`, turning a space into a line break (and `indent` spaces)
/// when the line is already past the width, as libyaml does.
fn write_folded(out: &mut String, text: &str, indent: usize, quoted: bool) {
    let chars: Vec<char> = text.chars().collect();
    let mut column = out.len() - out.rfind('\n').map_or(0, |at| at + 1);
    let mut after_space = false;
    for (index, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_is_space = chars.get(index + 1) == Some(&' ');
            let at_edge = quoted && (index == 0 || index + 1 == chars.len());
            if !after_space && column > YAML_WIDTH && !next_is_space && !at_edge {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
            } else {
                out.push(c);
                column += 1;
            }
            after_space = true;
        } else {
            out.push(c);
            column += 1;
            after_space = false;
        }
    }
}

fn yaml_literal(out: &mut String, text: &str, indent: usize) {
    out.push('|');
    if text.starts_with(' ') || text.starts_with('\n') {
        out.push('2');
    }
    let trailing = text.len() - text.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = if trailing >= 1 {
        &text[..text.len() - 1]
    } else {
        text
    };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
    }
}

fn yaml_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if yaml_printable(c) && c != '\u{feff}' => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
}

/// libyaml's printable characters.
fn yaml_printable(c: char) -> bool {
    matches!(c as u32,
        0x0A | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
        && c != '\u{feff}'
}

/// Whether a plain scalar is allowed for `text` in block context (libyaml's
/// analysis: indicators, `: ` and ` #`, blanks at the ends).
fn plain_allowed(text: &str) -> bool {
    if text.is_empty() || text.starts_with("---") || text.starts_with("...") {
        return false;
    }
    if text.starts_with(' ') || text.ends_with(' ') {
        return false;
    }
    let chars: Vec<char> = text.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        if !yaml_printable(c) {
            return false;
        }
        let next_blank = chars
            .get(index + 1)
            .is_none_or(|n| matches!(n, ' ' | '\t' | '\n'));
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                return false;
            }
            if matches!(c, '?' | ':' | '-') && next_blank {
                return false;
            }
        } else {
            if c == ':' && next_blank {
                return false;
            }
            if c == '#' && chars[index - 1] == ' ' {
                return false;
            }
        }
    }
    true
}

/// Whether YAML 1.1 would read `text`, unquoted, as something other than a
/// string (null, a boolean, a number, a timestamp).
fn resolves_to_non_string(text: &str) -> bool {
    const WORDS: [&str; 40] = [
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true",
        "True", "TRUE", "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if WORDS.contains(&text) {
        return true;
    }
    let Some(first) = text.chars().next() else {
        return true;
    };
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return false;
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    is_go_int(&plain)
        || is_yaml_float(&plain)
        || is_binary(&plain)
        || is_base60_float(text)
        || (first.is_ascii_digit() && is_timestamp(text))
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` syntax.
fn is_go_int(text: &str) -> bool {
    let unsigned = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    let (digits, radix) = if let Some(rest) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        (rest, 16)
    } else if let Some(rest) = unsigned
        .strip_prefix("0o")
        .or_else(|| unsigned.strip_prefix("0O"))
    {
        (rest, 8)
    } else if let Some(rest) = unsigned
        .strip_prefix("0b")
        .or_else(|| unsigned.strip_prefix("0B"))
    {
        (rest, 2)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (&unsigned[1..], 8)
    } else {
        (unsigned, 10)
    };
    !digits.is_empty() && u128::from_str_radix(digits, radix).is_ok_and(|n| n <= u64::MAX as u128)
}

fn is_binary(text: &str) -> bool {
    let rest = text.strip_prefix('-').unwrap_or(text);
    rest.strip_prefix("0b")
        .is_some_and(|digits| !digits.is_empty() && digits.chars().all(|c| c == '0' || c == '1'))
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(text: &str) -> bool {
    let body = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    let (number, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let number_ok = match number.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && fraction.chars().all(|c| c.is_ascii_digit()),
        None => digits(number),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e
            .strip_prefix('-')
            .or_else(|| e.strip_prefix('+'))
            .unwrap_or(e);
        digits(e)
    });
    number_ok && exponent_ok
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(text: &str) -> bool {
    let body = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    let (body, fraction) = match body.split_once('.') {
        Some((body, fraction)) => (body, Some(fraction)),
        None => (body, None),
    };
    if fraction.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit() || c == '_')) {
        return false;
    }
    let mut parts = body.split(':');
    let head = parts.next().unwrap_or("");
    let head_ok = head.chars().next().is_some_and(|c| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_');
    let rest: Vec<&str> = parts.collect();
    head_ok
        && !rest.is_empty()
        && rest.iter().all(|part| {
            let bytes = part.as_bytes();
            match bytes {
                [d] => d.is_ascii_digit(),
                [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
                _ => false,
            }
        })
}

/// YAML 1.1 timestamps as Go's YAML decoder accepts them: `2006-1-2`,
/// optionally followed by `T`, `t` or a space and a time.
fn is_timestamp(text: &str) -> bool {
    let date_end = text.find(['T', 't', ' ']).unwrap_or(text.len());
    let (date, time) = text.split_at(date_end);
    let parts: Vec<&str> = date.split('-').collect();
    let date_ok = matches!(parts.as_slice(), [y, m, d]
        if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len())
            && [y, m, d].iter().all(|p| p.chars().all(|c| c.is_ascii_digit())));
    if !date_ok {
        return false;
    }
    if time.is_empty() {
        return true;
    }
    let time = &time[1..];
    let clock_end = time.find(['Z', '+', '-']).unwrap_or(time.len());
    let (clock, zone) = time.split_at(clock_end);
    let clock = clock.split_once('.').map_or(clock, |(whole, fraction)| {
        if fraction.chars().all(|c| c.is_ascii_digit()) {
            whole
        } else {
            ""
        }
    });
    let fields: Vec<&str> = clock.split(':').collect();
    let clock_ok = fields.len() == 3
        && fields
            .iter()
            .all(|f| (1..=2).contains(&f.len()) && f.chars().all(|c| c.is_ascii_digit()));
    let zone_ok = zone.is_empty() || zone == "Z" || (zone.len() == 6 && zone.as_bytes()[3] == b':');
    clock_ok && zone_ok
}

/// The order Go's YAML encoder sorts map keys in: letters after other
/// characters, runs of digits compared as numbers.
fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let less = |x: bool| if x { Ordering::Less } else { Ordering::Greater };
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return less(bl);
        }
        let (mut an, mut bn): (u128, u128) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .saturating_mul(10)
                .saturating_add(ar[ai] as u128 - '0' as u128);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .saturating_mul(10)
                .saturating_add(br[bi] as u128 - '0' as u128);
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_json_is_in_vaults_field_order_and_escaped_like_go() {
        let body = json!({
            "auth": null, "wrap_info": null, "mount_type": "kv",
            "data": {"b": "<x&y>", "a": 1}, "lease_duration": 0, "lease_id": "",
            "renewable": false, "request_id": "r", "warnings": null
        });
        assert_eq!(
            secret_json(&body),
            "{\n  \"request_id\": \"r\",\n  \"lease_id\": \"\",\n  \"lease_duration\": 0,\n  \
             \"renewable\": false,\n  \"data\": {\n    \"a\": 1,\n    \
             \"b\": \"\\u003cx\\u0026y\\u003e\"\n  },\n  \"warnings\": null\n}"
        );
    }

    #[test]
    fn auth_and_wrap_info_get_their_field_order_and_zero_values() {
        let body = json!({"auth": {"lease_duration": 60, "client_token": "t",
                                   "num_uses": 0, "accessor": "a"},
                          "wrap_info": {"ttl": 5, "token": "w"}});
        let text = secret_json(&body);
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(parsed["auth"]["orphan"], json!(false));
        assert_eq!(parsed["auth"]["policies"], Value::Null);
        assert!(parsed["auth"].get("num_uses").is_none());
        assert_eq!(parsed["wrap_info"]["creation_path"], json!(""));
        let order = [
            "\"client_token\"",
            "\"accessor\"",
            "\"policies\"",
            "\"mfa_requirement\"",
            "\"wrap_info\"",
            "\"token\"",
            "\"ttl\"",
            "\"wrapped_accessor\"",
        ];
        let positions: Vec<usize> = order.iter().filter_map(|k| text.find(k)).collect();
        assert_eq!(positions.len(), order.len());
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn yaml_quoting_matches_vault() {
        let cases = [
            ("1", "\"1\""),
            ("", "\"\""),
            ("yes", "\"yes\""),
            ("0x1f", "\"0x1f\""),
            ("1_000", "\"1_000\""),
            (".5", "\".5\""),
            ("1:20", "\"1:20\""),
            ("2024-01-02", "\"2024-01-02\""),
            (
                "2026-12-02T16:40:19.975494249Z",
                "\"2026-12-02T16:40:19.975494249Z\"",
            ),
            ("-3", "\"-3\""),
            ("<x&y>", "<x&y>"),
            ("-x", "-x"),
            ("-", "'-'"),
            ("- x", "'- x'"),
            ("a: b", "'a: b'"),
            ("a:b", "a:b"),
            (":x", ":x"),
            ("a #b", "'a #b'"),
            ("*x", "'*x'"),
            (" x", "' x'"),
            ("x ", "'x '"),
            ("it's", "it's"),
            ("'x", "'''x'"),
            ("a\tb", "\"a\\tb\""),
            ("a\rb", "\"a\\rb\""),
            ("a\u{1}b", "\"a\\x01b\""),
            ("é", "é"),
            ("a,b", "a,b"),
            ("{x", "'{x'"),
            (
                "dd784a78-1fd8-1a00-7a5e-45a814b22eab",
                "dd784a78-1fd8-1a00-7a5e-45a814b22eab",
            ),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            yaml_string(&mut out, input, 2);
            assert_eq!(out, expected, "for {input:?}");
        }
    }

    #[test]
    fn yaml_document_like_vault() {
        let body = json!({
            "request_id": "r", "lease_id": "", "lease_duration": 0, "renewable": false,
            "warnings": null,
            "data": {
                "long": "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq rrrr ssss",
                "ml": "l1\nl2", "mlt": "l1\nl2\n", "lst": ["a", 1], "n": "12", "fl": 1.5,
                "nested": {"k": {"z": null, "a": []}}, "emptyobj": {}, "a10": 1, "a2": 2
            }
        });
        assert_eq!(
            secret_yaml(&body),
            "data:\n  a2: 2\n  a10: 1\n  emptyobj: {}\n  fl: 1.5\n  \
             long: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo\n    \
             pppp qqqq rrrr ssss\n  lst:\n  - a\n  - 1\n  ml: |-\n    l1\n    l2\n  \
             mlt: |\n    l1\n    l2\n  \"n\": \"12\"\n  nested:\n    k:\n      a: []\n      \
             z: null\nlease_duration: 0\nlease_id: \"\"\nrenewable: false\nrequest_id: r\n\
             warnings: null\n"
        );
    }

    #[test]
    fn yaml_sequences_of_maps() {
        assert_eq!(
            yaml(&json!([{"b": 1, "a": [1, 2]}, []])),
            "- a:\n  - 1\n  - 2\n  b: 1\n- []\n"
        );
        assert_eq!(yaml(&json!("x")), "x\n");
        assert_eq!(yaml(&json!("l1\nl2\n")), "|\n  l1\n  l2\n");
        assert_eq!(yaml(&json!({})), "{}\n");
    }

    #[test]
    fn go_floats() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(10.0), "10");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
    }
}
