//! Command input: `key=value` arguments, files, stdin and secret prompts.
//!
//! Owns the rules Vault's CLI uses for data arguments: `k=v` is a string,
//! `k=@path` the contents of a file, `k=-` the whole of stdin, a lone `-`
//! a JSON object read from stdin and merged in, and a key given twice
//! becomes a list. Stdin can be consumed once. Secrets (shares, tokens,
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

    /// Adds one argument (`-`, `k=v`, `k=@file` or `k=-`).
    pub fn add(&mut self, arg: &str, position: usize) -> Result<(), CliError> {
        if arg == "-" {
            let object = self.read_stdin_object()?;
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
    fn secret_lines() {
        let mut input: &[u8] = b"share-value\r\nnext\n";
        let line = read_secret_line(&mut input, "share").ok();
        assert_eq!(line.as_deref().map(String::as_str), Some("share-value"));
    }
}
