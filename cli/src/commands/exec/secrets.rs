//! What `exec` reads and how: `--env NAME=PATH#FIELD` and
//! `--file DEST=PATH[#FIELD]` specs, KV version detection per path
//! (`sys/internal/ui/mounts/<path>`: `options.version == "2"` → read
//! `<mount>data/<rest>` and take `data.data`; else read the path), and the
//! resulting [`Snapshot`] of values.
//!
//! Owns: spec parsing and KV reads. Errors name paths and fields, never values.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::client::{Client, SecretString};
use crate::error::CliError;

/// A KV secret and optionally one of its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    /// The path including the mount, e.g. `secret/app/db`.
    pub path: String,
    pub field: Option<String>,
}

/// `--env NAME=PATH#FIELD`.
#[derive(Debug)]
pub struct EnvSpec {
    pub name: String,
    pub source: SecretRef,
}

/// `--file DEST=PATH[#FIELD]`.
#[derive(Debug)]
pub struct FileSpec {
    pub dest: PathBuf,
    pub source: SecretRef,
}

/// Every secret `exec` was asked for.
#[derive(Debug, Default)]
pub struct Specs {
    pub env: Vec<EnvSpec>,
    pub files: Vec<FileSpec>,
}

/// The values handed to the command: variables and file contents.
#[derive(Default)]
pub struct Snapshot {
    pub env: Vec<(String, SecretString)>,
    pub files: Vec<(PathBuf, SecretString)>,
}

impl Snapshot {
    /// Whether both hold the same values.
    pub fn same_as(&self, other: &Snapshot) -> bool {
        let env = self.env.len() == other.env.len()
            && self
                .env
                .iter()
                .zip(&other.env)
                .all(|(a, b)| a.0 == b.0 && a.1.expose() == b.1.expose());
        let files = self.files.len() == other.files.len()
            && self
                .files
                .iter()
                .zip(&other.files)
                .all(|(a, b)| a.0 == b.0 && a.1.expose() == b.1.expose());
        env && files
    }
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `PATH[#FIELD]` → a [`SecretRef`].
fn parse_ref(text: &str, flag: &str) -> Result<SecretRef, CliError> {
    let (path, field) = match text.rsplit_once('#') {
        Some((p, f)) => (p, Some(f.to_owned())),
        None => (text, None),
    };
    let path = path.trim().trim_matches('/');
    if path.is_empty() || field.as_deref() == Some("") {
        return Err(CliError::usage(format!(
            "--{flag} {text:?}: expected a KV path with its mount, like secret/app/db#password"
        )));
    }
    Ok(SecretRef {
        path: path.to_owned(),
        field,
    })
}

impl Specs {
    /// Parses the `--env` and `--file` values.
    pub fn parse(env: &[String], files: &[String]) -> Result<Specs, CliError> {
        let mut specs = Specs::default();
        for item in env {
            let (name, source) = item.split_once('=').ok_or_else(|| {
                CliError::usage(format!("--env {item:?}: expected NAME=PATH#FIELD"))
            })?;
            if !valid_env_name(name) {
                return Err(CliError::usage(format!(
                    "--env {item:?}: {name:?} is not a valid variable name"
                )));
            }
            let source = parse_ref(source, "env")?;
            if source.field.is_none() {
                return Err(CliError::usage(format!(
                    "--env {item:?}: name the field, as in PATH#FIELD"
                )));
            }
            specs.env.push(EnvSpec {
                name: name.to_owned(),
                source,
            });
        }
        for item in files {
            let (dest, source) = item.split_once('=').ok_or_else(|| {
                CliError::usage(format!("--file {item:?}: expected DEST=PATH[#FIELD]"))
            })?;
            if dest.trim().is_empty() {
                return Err(CliError::usage(format!(
                    "--file {item:?}: empty destination"
                )));
            }
            specs.files.push(FileSpec {
                dest: PathBuf::from(dest),
                source: parse_ref(source, "file")?,
            });
        }
        if specs.env.is_empty() && specs.files.is_empty() {
            return Err(CliError::usage("nothing to read: give --env or --file"));
        }
        Ok(specs)
    }
}

/// Reads the data object of the KV secret at `path`.
fn read_kv(client: &Client, path: &str) -> Result<Map<String, Value>, CliError> {
    let (mount, v2) = crate::commands::kv::preflight(client, path)?;
    let api_path = match path.strip_prefix(mount.as_str()) {
        Some(rest) if v2 && !mount.is_empty() => format!("{mount}data/{rest}"),
        _ => path.to_owned(),
    };
    let body = client
        .read(&api_path)?
        .ok_or_else(|| CliError::failed(format!("no secret at {path}")))?;
    let data = body.get("data");
    let data = if v2 {
        data.and_then(|d| d.get("data"))
    } else {
        data
    };
    match data {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(CliError::failed(format!(
            "the secret at {path} has no data (deleted or destroyed version?)"
        ))),
    }
}

/// A value as the command sees it: strings raw, anything else as JSON.
fn text_of(value: &Value) -> SecretString {
    match value {
        Value::String(s) => SecretString::new(s.clone()),
        other => SecretString::new(other.to_string()),
    }
}

/// The text for `source` from its secret's data.
fn extract(data: &Map<String, Value>, source: &SecretRef) -> Result<SecretString, CliError> {
    match &source.field {
        Some(field) => data.get(field).map(text_of).ok_or_else(|| {
            CliError::failed(format!(
                "field {field:?} not present in the secret at {}",
                source.path
            ))
        }),
        None => Ok(SecretString::new(
            Value::Object(data.clone()).to_string() + "\n",
        )),
    }
}

/// Reads every secret the specs name (each path once).
pub fn fetch(client: &Client, specs: &Specs) -> Result<Snapshot, CliError> {
    let mut cache: HashMap<&str, Map<String, Value>> = HashMap::new();
    let sources = specs
        .env
        .iter()
        .map(|e| &e.source)
        .chain(specs.files.iter().map(|f| &f.source));
    for source in sources {
        if !cache.contains_key(source.path.as_str()) {
            cache.insert(&source.path, read_kv(client, &source.path)?);
        }
    }
    let lookup = |source: &SecretRef| {
        cache
            .get(source.path.as_str())
            .ok_or_else(|| CliError::failed(format!("no secret at {}", source.path)))
            .and_then(|data| extract(data, source))
    };
    let mut snapshot = Snapshot::default();
    for e in &specs.env {
        snapshot.env.push((e.name.clone(), lookup(&e.source)?));
    }
    for f in &specs.files {
        snapshot.files.push((f.dest.clone(), lookup(&f.source)?));
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn specs_parse() {
        let specs = Specs::parse(
            &strings(&["DB_PASS=secret/app/db#password", "_X1=/kv/a/#k#ey"]),
            &strings(&[
                "/run/app/tls.pem=secret/app/tls#cert",
                "out.json=secret/app/db",
            ]),
        );
        let specs = specs.ok().unwrap_or_default();
        assert_eq!(specs.env[0].name, "DB_PASS");
        assert_eq!(
            specs.env[0].source,
            SecretRef {
                path: "secret/app/db".into(),
                field: Some("password".into())
            }
        );
        assert_eq!(specs.env[1].source.path, "kv/a/#k");
        assert_eq!(specs.files[1].source.field, None);
        for bad in [
            "1X=secret/a#b",
            "X=secret/a",
            "X=#f",
            "X=secret/a#",
            "noequals",
        ] {
            assert!(Specs::parse(&strings(&[bad]), &[]).is_err(), "{bad}");
        }
        assert!(Specs::parse(&[], &[]).is_err());
        assert!(Specs::parse(&[], &strings(&["=secret/a"])).is_err());
    }

    #[test]
    fn extraction() {
        let data = json!({"s": "v", "n": 5, "o": {"a": 1}});
        let data = data.as_object().cloned().unwrap_or_default();
        let r = |f: Option<&str>| SecretRef {
            path: "p".into(),
            field: f.map(str::to_owned),
        };
        assert_eq!(
            extract(&data, &r(Some("s")))
                .map(|s| s.expose().to_owned())
                .ok(),
            Some("v".into())
        );
        assert_eq!(
            extract(&data, &r(Some("n")))
                .map(|s| s.expose().to_owned())
                .ok(),
            Some("5".into())
        );
        assert!(extract(&data, &r(Some("missing"))).is_err());
        let whole = extract(&data, &r(None))
            .map(|s| s.expose().to_owned())
            .unwrap_or_default();
        assert!(whole.starts_with('{') && whole.ends_with('\n'));
    }

    #[test]
    fn snapshots_compare_values() {
        let a = Snapshot {
            env: vec![("A".into(), SecretString::new("1".into()))],
            files: vec![],
        };
        let b = Snapshot {
            env: vec![("A".into(), SecretString::new("2".into()))],
            files: vec![],
        };
        assert!(a.same_as(&a));
        assert!(!a.same_as(&b));
    }
}
