//! Command input: `key=value` arguments, files, stdin and secret prompts.
//!
//! Owns the rules Vault's CLI uses for data arguments: `k=v` is a string,
//! `k=@path` the contents of a file, `k=-` the whole of stdin, a lone `-`
//! a JSON object read from stdin and merged in, a lone `@file.json` a JSON
//! object read from that file and merged in, and a key given twice becomes
//! a list. Stdin can be consumed once. A vault-rs extra: a lone
//! `@file.env` (a file named `.env` or `*.env`) is read as a dotenv file,
//! each `KEY=value` line one string; its lines never appear in errors. Secrets (shares, tokens,
//! passwords) are read without echo from a terminal, or as one line from
//! piped stdin, and are never echoed in error messages.

use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::client::SecretString;
use crate::error::CliError;

/// Builds a JSON object from `key=value` arguments, reading `@file`s and
/// (at most once) `stdin`.
pub struct DataBuilder<'a> {
    stdin: &'a mut dyn Read,
    stdin_used: bool,
    data: Map<String, Value>,
}

impl<'a> DataBuilder<'a> {
    /// A builder that reads `-` values from `stdin`.
    pub fn new(stdin: &'a mut dyn Read) -> Self {
        DataBuilder {
            stdin,
            stdin_used: false,
            data: Map::new(),
        }
    }

    /// Adds every argument in order; `position_offset` is how many
    /// positional arguments precede them (for error messages).
    pub fn add_all(&mut self, args: &[String], position_offset: usize) -> Result<(), CliError> {
        for (index, arg) in args.iter().enumerate() {
            self.add(arg, index + position_offset + 1)?;
        }
        Ok(())
    }

    /// Adds one argument (`-`, `@file`, `k=v`, `k=@file` or `k=-`).
    pub fn add(&mut self, arg: &str, position: usize) -> Result<(), CliError> {
        if arg == "-" {
            let object = self.read_stdin_object()?;
            for (key, value) in object {
                self.insert(key, value);
            }
            return Ok(());
        }
        if let Some(path) = arg.strip_prefix('@').filter(|_| !arg.contains('=')) {
            let object = read_object_file(Path::new(path))?;
            for (key, value) in object {
                self.insert(key, value);
            }
            return Ok(());
        }
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(CliError::usage(format!(
                "argument {position} is not of the form key=value (or - to read JSON from stdin)"
            )));
        };
        if key.is_empty() {
            return Err(CliError::usage(format!(
                "argument {position} has an empty key"
            )));
        }
        let value = self.resolve_value(key, raw)?;
        self.insert(key.to_owned(), Value::String(value));
        Ok(())
    }

    /// The object built so far.
    pub fn finish(self) -> Map<String, Value> {
        self.data
    }

    fn resolve_value(&mut self, key: &str, raw: &str) -> Result<String, CliError> {
        if raw == "-" {
            return self.read_stdin_text();
        }
        match raw.strip_prefix('@') {
            Some(path) => read_file(Path::new(path)).map_err(|error| {
                CliError::failed(format!("cannot read the value of {key:?}: {error}"))
            }),
            None => Ok(raw.to_owned()),
        }
    }

    fn insert(&mut self, key: String, value: Value) {
        match self.data.get_mut(&key) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                self.data.insert(key, value);
            }
        }
    }

    fn take_stdin(&mut self) -> Result<(), CliError> {
        if self.stdin_used {
            return Err(CliError::usage("stdin (-) can only be used once"));
        }
        self.stdin_used = true;
        Ok(())
    }

    fn read_stdin_text(&mut self) -> Result<String, CliError> {
        self.take_stdin()?;
        let mut text = String::new();
        self.stdin
            .read_to_string(&mut text)
            .map_err(|error| CliError::failed(format!("cannot read stdin: {error}")))?;
        Ok(text)
    }

    fn read_stdin_object(&mut self) -> Result<Map<String, Value>, CliError> {
        let text = Zeroizing::new(self.read_stdin_text()?);
        parse_json_object(&text, "stdin")
    }
}

/// Parses `text` as a JSON object; `origin` names where it came from.
pub fn parse_json_object(text: &str, origin: &str) -> Result<Map<String, Value>, CliError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(CliError::usage(format!("{origin} must hold a JSON object"))),
        Err(error) => Err(CliError::usage(format!(
            "{origin} is not valid JSON: line {} column {}",
            error.line(),
            error.column()
        ))),
    }
}

/// Whether `path` names a dotenv file (`.env`, `prod.env`).
fn is_dotenv(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name == ".env" || name.ends_with(".env"))
}

/// The object in a `@file` argument: a dotenv file's `KEY=value` lines,
/// or else a JSON object.
fn read_object_file(path: &Path) -> Result<Map<String, Value>, CliError> {
    if is_dotenv(path) {
        return read_dotenv(path);
    }
    let text = Zeroizing::new(
        read_file(path).map_err(|error| CliError::failed(format!("cannot read {error}")))?,
    );
    parse_json_object(&text, &path.display().to_string())
}

/// Parses a dotenv file (quotes, `export`, comments and `${VAR}`
/// substitution as dotenv does). A malformed line is reported by number
/// only: its text may hold a secret.
fn read_dotenv(path: &Path) -> Result<Map<String, Value>, CliError> {
    let shown = path.display();
    let iter = dotenvy::from_path_iter(path).map_err(|error| match error {
        dotenvy::Error::Io(io) => CliError::failed(format!("cannot read {shown}: {io}")),
        _ => CliError::failed(format!("cannot read {shown}")),
    })?;
    let mut map = Map::new();
    for (index, item) in iter.enumerate() {
        match item {
            Ok((key, value)) => {
                map.insert(key, Value::String(value));
            }
            Err(dotenvy::Error::LineParse(_, _)) => {
                return Err(CliError::usage(format!(
                    "{shown} is not a valid .env file: entry {} is not KEY=value",
                    index + 1
                )))
            }
            Err(dotenvy::Error::Io(io)) => {
                return Err(CliError::failed(format!("cannot read {shown}: {io}")))
            }
            Err(_) => {
                return Err(CliError::usage(format!(
                    "{shown} is not a valid .env file: entry {} cannot be read",
                    index + 1
                )))
            }
        }
    }
    if map.is_empty() {
        return Err(CliError::usage(format!("{shown} has no KEY=value line")));
    }
    Ok(map)
}

/// Builds the data object of `args` with the process's stdin.
pub fn parse_data_args(
    args: &[String],
    position_offset: usize,
) -> Result<Map<String, Value>, CliError> {
    let mut stdin = std::io::stdin().lock();
    let mut builder = DataBuilder::new(&mut stdin);
    builder.add_all(args, position_offset)?;
    Ok(builder.finish())
}

/// The contents of a file as text.
pub fn read_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))
}

/// The contents of `source`: a file path, or `-` for all of stdin.
pub fn read_file_or_stdin(source: &str) -> Result<String, CliError> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| CliError::failed(format!("cannot read stdin: {error}")))?;
        return Ok(text);
    }
    read_file(Path::new(source)).map_err(|error| CliError::failed(format!("cannot read {error}")))
}

/// Reads a secret: from the terminal without echo when stdin is a
/// terminal (showing `prompt` on stderr), else one line from stdin.
pub fn read_secret(prompt: &str, what: &str) -> Result<SecretString, CliError> {
    let value = if std::io::stdin().is_terminal() {
        Zeroizing::new(
            rpassword::prompt_password(prompt)
                .map_err(|error| CliError::failed(format!("cannot read the {what}: {error}")))?,
        )
    } else {
        read_secret_line(&mut std::io::stdin().lock(), what)?
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(CliError::usage(format!("the {what} is empty")));
    }
    Ok(SecretString::new(trimmed.to_owned()))
}

/// Reads one line (without its line ending) from `reader`.
pub fn read_secret_line(
    reader: &mut dyn BufRead,
    what: &str,
) -> Result<Zeroizing<String>, CliError> {
    let mut line = Zeroizing::new(String::new());
    reader
        .read_line(&mut line)
        .map_err(|error| CliError::failed(format!("cannot read the {what} from stdin: {error}")))?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    Ok(trimmed)
}

/// A secret given as an argument, where `-` means "read it from stdin".
pub fn secret_or_stdin(value: SecretString, what: &str) -> Result<SecretString, CliError> {
    if value.expose() == "-" {
        let line = read_secret_line(&mut std::io::stdin().lock(), what)?;
        if line.trim().is_empty() {
            return Err(CliError::usage(format!("the {what} is empty")));
        }
        return Ok(SecretString::new(line.trim().to_owned()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(args: &[&str], stdin: &str) -> Result<Map<String, Value>, CliError> {
        let mut input = stdin.as_bytes();
        let mut builder = DataBuilder::new(&mut input);
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        builder.add_all(&args, 1)?;
        Ok(builder.finish())
    }

    #[test]
    fn plain_pairs_are_strings() {
        let data = build(&["a=1", "b=x=y", "c="], "").ok();
        assert_eq!(
            data.map(Value::Object),
            Some(json!({"a": "1", "b": "x=y", "c": ""}))
        );
    }

    #[test]
    fn repeated_keys_become_lists() {
        let data = build(&["p=a", "p=b", "p=c"], "").ok();
        assert_eq!(data.map(Value::Object), Some(json!({"p": ["a", "b", "c"]})));
    }

    #[test]
    fn stdin_value_and_object() {
        let data = build(&["k=-"], "line\n").ok();
        assert_eq!(data.map(Value::Object), Some(json!({"k": "line\n"})));
        let data = build(&["-", "b=2"], r#"{"a": 1}"#).ok();
        assert_eq!(data.map(Value::Object), Some(json!({"a": 1, "b": "2"})));
    }

    #[test]
    fn stdin_only_once() {
        let error = build(&["a=-", "b=-"], "x").err();
        assert!(matches!(error, Some(CliError::Usage(_))));
    }

    #[test]
    fn file_values() {
        let dir = std::env::temp_dir().join(format!("vault-rs-cli-input-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("value.txt");
        assert!(std::fs::write(&file, "from file").is_ok());
        let arg = format!("k=@{}", file.display());
        let data = build(&[arg.as_str()], "").ok();
        assert_eq!(data.map(Value::Object), Some(json!({"k": "from file"})));
        let missing = build(&["k=@/nonexistent/file"], "").err();
        assert!(matches!(missing, Some(CliError::Failed(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn malformed_arguments_are_usage_errors_without_echo() {
        let error = build(&["ok=1", "s3cr3t"], "").err();
        match error {
            Some(CliError::Usage(message)) => {
                assert!(message.contains("argument 3"));
                assert!(!message.contains("s3cr3t"));
            }
            other => panic!("unexpected: {other:?}"),
        }
        assert!(matches!(build(&["=v"], "").err(), Some(CliError::Usage(_))));
        assert!(matches!(
            build(&["-"], "[1]").err(),
            Some(CliError::Usage(_))
        ));
        assert!(matches!(
            build(&["-"], "{bad").err(),
            Some(CliError::Usage(_))
        ));
    }

    #[test]
    fn lone_file_arguments_are_json_or_dotenv() {
        let dir = std::env::temp_dir().join(format!("vault-rs-cli-objects-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let json_file = dir.join("data.json");
        assert!(std::fs::write(&json_file, r#"{"a": 1, "b": {"c": "d"}}"#).is_ok());
        let env_file = dir.join("app.env");
        let env_text = "# comment\nexport USER=bob\nPASS='s3 cr$t'\nURL=\"http://x?a=1#f\"\n";
        assert!(std::fs::write(&env_file, env_text).is_ok());
        let arg_json = format!("@{}", json_file.display());
        let arg_env = format!("@{}", env_file.display());
        let data = build(&[arg_json.as_str(), arg_env.as_str(), "x=1"], "").ok();
        assert_eq!(
            data.map(Value::Object),
            Some(
                json!({"a": 1, "b": {"c": "d"}, "USER": "bob", "PASS": "s3 cr$t",
                        "URL": "http://x?a=1#f", "x": "1"})
            )
        );
        let bad_env = dir.join("bad.env");
        assert!(std::fs::write(&bad_env, "OK=1\nhunter2 secret line\n").is_ok());
        let arg_bad = format!("@{}", bad_env.display());
        match build(&[arg_bad.as_str()], "").err() {
            Some(CliError::Usage(message)) => {
                assert!(message.contains("entry 2"), "{message}");
                assert!(!message.contains("hunter2"), "{message}");
            }
            other => panic!("unexpected: {other:?}"),
        }
        let not_object = dir.join("list.json");
        assert!(std::fs::write(&not_object, "[1]").is_ok());
        let arg_list = format!("@{}", not_object.display());
        assert!(matches!(
            build(&[arg_list.as_str()], "").err(),
            Some(CliError::Usage(_))
        ));
        let missing = format!("@{}", dir.join("missing.json").display());
        assert!(matches!(
            build(&[missing.as_str()], "").err(),
            Some(CliError::Failed(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn secret_lines() {
        let mut input: &[u8] = b"share-value\r\nnext\n";
        let line = read_secret_line(&mut input, "share").ok();
        assert_eq!(line.as_deref().map(String::as_str), Some("share-value"));
    }
}
