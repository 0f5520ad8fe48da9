//! `vault-rs audit enable|disable|list|hash|public-key` (sys/audit*) and the
//! offline review commands `audit verify|tail|search`, which read log files
//! directly and need no server.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use vault_rs::audit::search::{scan, Criteria, Filter};
use vault_rs::audit::verify::{parse_public_key, verify, LogFile, Report, VerifyOptions};

use crate::client::Method;
use crate::commands::{
    clean_path, expect_body, expect_data, parse_pairs, with_trailing_slash, Context,
};
use crate::error::{CliError, CmdResult, EXIT_FAILURE, EXIT_OK};
use crate::output;

/// `vault-rs audit <command>`.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Enable an audit device (TYPE: file, socket, stdout; options as K=V).
    Enable(EnableArgs),
    /// Disable an audit device.
    Disable(PathArgs),
    /// List the enabled audit devices.
    List(ListArgs),
    /// HMAC a value with a device's salt, to search its log for it.
    Hash(HashArgs),
    /// Print the Ed25519 key that signs a device's checkpoints.
    PublicKey(PathArgs),
    /// Verify the hash chain and signatures of audit log files (offline).
    Verify(VerifyArgs),
    /// Print the last requests of an audit log, one line each (offline).
    Tail(TailArgs),
    /// Find requests in audit logs (offline).
    Search(SearchArgs),
}

/// `audit enable [--path P] [--description D] [--local] TYPE [K=V...]`.
#[derive(Args)]
pub struct EnableArgs {
    /// Device type: file, socket or stdout.
    #[arg(value_name = "TYPE")]
    device_type: String,
    /// Device options, e.g. file_path=/var/log/vault-audit.log.
    #[arg(value_name = "K=V")]
    options: Vec<String>,
    /// Where to enable it (default: the type).
    #[arg(long)]
    path: Option<String>,
    /// Human-readable description.
    #[arg(long)]
    description: Option<String>,
    /// Local to this node (kept for compatibility).
    #[arg(long)]
    local: bool,
}

/// `audit disable|public-key PATH`.
#[derive(Args)]
pub struct PathArgs {
    /// Device path.
    path: String,
}

/// `audit list [--detailed]`.
#[derive(Args)]
pub struct ListArgs {
    /// Also show the options.
    #[arg(long)]
    detailed: bool,
}

/// `audit hash DEVICE INPUT`.
#[derive(Args)]
pub struct HashArgs {
    /// Device path.
    device: String,
    /// The value to hash (a token, an accessor, a secret).
    input: String,
}

/// `audit verify FILE... [--public-key KEY]`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Log files: the current one and any rotated ones, in any order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The trusted public key (base64, hex or PEM), or @FILE holding it.
    /// Without it, the key in the log's header is used.
    #[arg(long, value_name = "KEY")]
    public_key: Option<String>,
    /// Accept lines after the last checkpoint (a log still being written).
    #[arg(long)]
    allow_open_tail: bool,
}

/// `audit tail FILE [-f] [-n N]`.
#[derive(Args)]
pub struct TailArgs {
    /// Log file.
    file: PathBuf,
    /// Keep printing new requests as they are logged (follows rotation).
    #[arg(short = 'f', long)]
    follow: bool,
    /// How many requests to print first.
    #[arg(short = 'n', long, default_value_t = 10)]
    lines: usize,
    /// Show request entries too (by default one line per response).
    #[arg(long)]
    all: bool,
}

/// `audit search FILE... [filters]`.
#[derive(Args)]
pub struct SearchArgs {
    /// Log files.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Request path; * matches any run of characters (secret/*, */config).
    #[arg(long)]
    path: Option<String>,
    /// Leave out requests to paths matching this glob.
    #[arg(long, value_name = "GLOB")]
    exclude_path: Option<String>,
    /// Operation(s): read, list, create, update, patch, delete (comma-separated).
    #[arg(long)]
    operation: Option<String>,
    /// Entries at or after: RFC 3339 time, or a duration ago (15m, 2h).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Entries at or before: RFC 3339 time, or a duration ago.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// HMAC of a token or accessor (from `audit hash`), with or without the hmac-sha256: prefix.
    #[arg(long, value_name = "HASH")]
    token_hash: Option<String>,
    /// Status: a code (403), a class (4xx), ok or error.
    #[arg(long)]
    status: Option<String>,
    /// Entry type: response (one per request, default), request, or all.
    #[arg(long = "type", value_name = "TYPE", default_value = "response")]
    entry_type: String,
    /// Stop after this many matches.
    #[arg(long)]
    limit: Option<usize>,
}

/// Runs one audit command.
pub fn run(ctx: &Context, command: AuditCommand) -> CmdResult {
    match command {
        AuditCommand::Enable(args) => enable(ctx, args),
        AuditCommand::Disable(args) => disable(ctx, args),
        AuditCommand::List(args) => list(ctx, args),
        AuditCommand::Hash(args) => hash(ctx, args),
        AuditCommand::PublicKey(args) => public_key(ctx, args),
        AuditCommand::Verify(args) => verify_files(ctx, args),
        AuditCommand::Tail(args) => tail(ctx, args),
        AuditCommand::Search(args) => search(ctx, args),
    }
}

fn enable(ctx: &Context, args: EnableArgs) -> CmdResult {
    let kind = args.device_type.trim();
    if kind.is_empty() {
        return Err(CliError::usage("the device type must not be empty"));
    }
    let path = clean_path(args.path.as_deref().unwrap_or(kind))?;
    let options = parse_pairs(&args.options, "options")?;
    let mut body = Map::new();
    body.insert("type".into(), json!(kind));
    body.insert(
        "description".into(),
        json!(args.description.unwrap_or_default()),
    );
    body.insert("local".into(), json!(args.local));
    body.insert("options".into(), Value::Object(options));
    let client = ctx.client()?;
    client.request(
        Method::Put,
        &format!("sys/audit/{path}"),
        Some(&Value::Object(body)),
    )?;
    ctx.success(&format!(
        "Enabled the {kind} audit device at: {}",
        with_trailing_slash(&path)
    ))?;
    Ok(EXIT_OK)
}

fn disable(ctx: &Context, args: PathArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    let client = ctx.client()?;
    client.request(Method::Delete, &format!("sys/audit/{path}"), None)?;
    ctx.success(&format!(
        "Disabled audit device (if it was enabled) at: {}",
        with_trailing_slash(&path)
    ))?;
    Ok(EXIT_OK)
}

fn list(ctx: &Context, args: ListArgs) -> CmdResult {
    let client = ctx.client()?;
    let body = expect_body(client.request(Method::Get, "sys/audit", None)?, "sys/audit")?;
    let data = expect_data(&body, "sys/audit")?.clone();
    if !ctx.output.is_table() || ctx.output.field.is_some() {
        return ctx.output.map(&data).map(|()| EXIT_OK);
    }
    if data.is_empty() {
        output::emit("No audit devices are enabled.")?;
        return Ok(EXIT_OK);
    }
    let mut rows = Vec::new();
    for (path, d) in &data {
        let s = |k: &str| d.get(k).map(output::format_value).unwrap_or_default();
        let mut row = vec![path.clone(), s("type"), s("description")];
        if args.detailed {
            row.push(s("options"));
        }
        rows.push(row);
    }
    let header: &[&str] = if args.detailed {
        &["Path", "Type", "Description", "Options"]
    } else {
        &["Path", "Type", "Description"]
    };
    output::emit(&output::table(header, &rows))?;
    Ok(EXIT_OK)
}

fn hash(ctx: &Context, args: HashArgs) -> CmdResult {
    let device = clean_path(&args.device)?;
    let client = ctx.client()?;
    let body = expect_body(
        client.request(
            Method::Post,
            &format!("sys/audit-hash/{device}"),
            Some(&json!({ "input": args.input })),
        )?,
        "sys/audit-hash",
    )?;
    if !ctx.output.is_table() || ctx.output.field.is_some() {
        ctx.output.secret(&body)?;
        return Ok(EXIT_OK);
    }
    let h = expect_data(&body, "sys/audit-hash")?
        .get("hash")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::failed("the reply has no hash"))?;
    output::emit(h)?;
    Ok(EXIT_OK)
}

fn public_key(ctx: &Context, args: PathArgs) -> CmdResult {
    let device = clean_path(&args.path)?;
    let client = ctx.client()?;
    let path = format!("sys/audit/{device}/public-key");
    let body = expect_body(client.request(Method::Get, &path, None)?, &path)?;
    if !ctx.output.is_table() || ctx.output.field.is_some() {
        ctx.output.secret(&body)?;
        return Ok(EXIT_OK);
    }
    let key = expect_data(&body, &path)?
        .get("public_key")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::failed("the reply has no public_key"))?;
    output::emit(key)?;
    Ok(EXIT_OK)
}

fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|e| CliError::failed(format!("cannot read {}: {e}", path.display())))
}

/// `--public-key`: the key itself, or @FILE / an existing file holding it.
fn key_text(arg: &str) -> Result<String, CliError> {
    if let Some(file) = arg.strip_prefix('@') {
        return String::from_utf8(read_file(Path::new(file))?)
            .map_err(|_| CliError::failed(format!("{file} is not text")));
    }
    let p = Path::new(arg);
    if !arg.trim_start().starts_with("-----") && arg.len() < 4096 && p.is_file() {
        return String::from_utf8(read_file(p)?)
            .map_err(|_| CliError::failed(format!("{arg} is not text")));
    }
    Ok(arg.to_string())
}

fn verify_files(ctx: &Context, args: VerifyArgs) -> CmdResult {
    let public_key = match &args.public_key {
        Some(k) => Some(
            parse_public_key(&key_text(k)?)
                .map_err(|e| CliError::usage(format!("--public-key: {e}")))?,
        ),
        None => None,
    };
    let mut files = Vec::new();
    for f in &args.files {
        files.push(LogFile {
            name: f.display().to_string(),
            bytes: read_file(f)?,
        });
    }
    let report = verify(
        &files,
        &VerifyOptions {
            public_key,
            allow_open_tail: args.allow_open_tail,
        },
    );
    if !ctx.output.is_table() {
        let v = serde_json::to_value(&report).map_err(|e| CliError::failed(e.to_string()))?;
        ctx.output.structured(&v)?;
    } else {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        output::emit(&verify_summary(&report))?;
    }
    Ok(if report.ok() { EXIT_OK } else { EXIT_FAILURE })
}

fn verify_summary(r: &Report) -> String {
    let counts = format!(
        "{} file(s), {} lines: {} requests, {} responses, {} headers, {} checkpoints",
        r.files, r.lines, r.requests, r.responses, r.headers, r.checkpoints
    );
    match &r.problem {
        None => {
            let seq = match (r.first_seq, r.last_seq) {
                (Some(a), Some(b)) => format!(", seq {a}-{b}"),
                _ => String::new(),
            };
            let key = r.key_id.as_deref().unwrap_or("?");
            let source = if r.key_from_log {
                " (from the log header)"
            } else {
                ""
            };
            format!("OK: {counts}{seq}; signed by key_id {key}{source}")
        }
        Some(_) => {
            let mut out = String::new();
            for p in &r.problems {
                out.push_str(&format!("FAILED ({:?}): {p}\n", p.kind));
            }
            if r.more_problems > 0 {
                out.push_str(&format!("... and {} more problem(s)\n", r.more_problems));
            }
            out.push_str(&format!(
                "{} problem(s); checked: {counts}",
                r.problems.len() as u64 + r.more_problems
            ));
            out
        }
    }
}

/// One request as one line: time, status, operation, path, who, from where.
fn human_line(v: &Value) -> Option<String> {
    let kind = v.get("type")?.as_str()?;
    if kind != "request" && kind != "response" {
        return None;
    }
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let status = match v.pointer("/response/status_code").and_then(Value::as_u64) {
        Some(c) => c.to_string(),
        None if kind == "request" => "req".into(),
        None => "-".into(),
    };
    let who = match s("/auth/display_name") {
        d if d.is_empty() => "-".to_string(),
        d => d,
    };
    let from = match s("/request/remote_address") {
        a if a.is_empty() => "-".to_string(),
        a => a,
    };
    let token = s("/request/client_token");
    let token = token.strip_prefix("hmac-sha256:").unwrap_or(&token);
    let token = if token.is_empty() {
        String::new()
    } else {
        format!(" token={}", &token[..token.len().min(12)])
    };
    let error = match s("/error") {
        e if e.is_empty() => String::new(),
        e => format!(" error={e:?}"),
    };
    Some(format!(
        "{} {:>3} {:<6} {} by {who} from {from}{token}{error}",
        s("/time"),
        status,
        s("/request/operation"),
        s("/request/path"),
    ))
}

fn wanted_for_tail(v: &Value, all: bool) -> bool {
    match v.get("type").and_then(Value::as_str) {
        Some("response") => true,
        Some("request") => all,
        _ => false,
    }
}

fn tail(ctx: &Context, args: TailArgs) -> CmdResult {
    let mut file = std::fs::File::open(&args.file)
        .map_err(|e| CliError::failed(format!("cannot open {}: {e}", args.file.display())))?;
    let mut last: VecDeque<Value> = VecDeque::new();
    let mut reader = BufReader::new(&mut file);
    let mut offset: u64 = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::failed(format!("cannot read {}: {e}", args.file.display())))?;
        if n == 0 || !line.ends_with(b"\n") {
            break;
        }
        offset += n as u64;
        if let Ok(v) = serde_json::from_slice::<Value>(&line) {
            if wanted_for_tail(&v, args.all) {
                last.push_back(v);
                if last.len() > args.lines {
                    last.pop_front();
                }
            }
        }
    }
    for v in &last {
        print_entry(ctx, v)?;
    }
    if args.follow {
        follow(ctx, &args, offset)?;
    }
    Ok(EXIT_OK)
}

fn print_entry(ctx: &Context, v: &Value) -> Result<(), CliError> {
    if !ctx.output.is_table() {
        return output::emit(&v.to_string());
    }
    if let Some(l) = human_line(v) {
        output::emit(&l)?;
    }
    Ok(())
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.ino()
}

#[cfg(not(unix))]
fn file_id(_m: &std::fs::Metadata) -> u64 {
    0
}

/// Polls the file for new complete lines; starts over on a new file at the
/// same name (rotation) or when it shrinks.
fn follow(ctx: &Context, args: &TailArgs, mut offset: u64) -> Result<(), CliError> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .ok()
            .and_then(|f| f.metadata().ok().map(|m| (file_id(&m), f)))
    };
    let Some((mut id, mut file)) = open(&args.file) else {
        return Err(CliError::failed(format!(
            "cannot open {}",
            args.file.display()
        )));
    };
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let mut chunk = Vec::new();
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_end(&mut chunk);
        }
        offset += chunk.len() as u64;
        pending.extend_from_slice(&chunk);
        while let Some(i) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                if wanted_for_tail(&v, args.all) {
                    print_entry(ctx, &v)?;
                }
            }
        }
        if chunk.is_empty() {
            std::thread::sleep(Duration::from_millis(250));
            if let Ok(m) = std::fs::metadata(&args.file) {
                if file_id(&m) != id || m.len() < offset {
                    if let Some((new_id, f)) = open(&args.file) {
                        id = new_id;
                        file = f;
                        offset = 0;
                        pending.clear();
                    }
                }
            }
        }
    }
}

/// The search filters of `args`, parsed by the library (the server's
/// `sys/audit/:path/entries` parses its query the same way).
fn filter_of(args: &SearchArgs) -> Result<Filter, CliError> {
    Filter::parse(
        &Criteria {
            path: args.path.as_deref(),
            exclude_path: args.exclude_path.as_deref(),
            operation: args.operation.as_deref(),
            since: args.since.as_deref(),
            until: args.until.as_deref(),
            token_hash: args.token_hash.as_deref(),
            status: args.status.as_deref(),
            entry_type: Some(&args.entry_type),
        },
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| CliError::usage(format!("--{}: {}", e.field.replace('_', "-"), e.message)))
}

fn search(ctx: &Context, args: SearchArgs) -> CmdResult {
    let filter = filter_of(&args)?;
    let mut found = 0usize;
    let mut failed = None;
    for f in &args.files {
        if args.limit.is_some_and(|l| found >= l) {
            break;
        }
        let file = std::fs::File::open(f)
            .map_err(|e| CliError::failed(format!("cannot open {}: {e}", f.display())))?;
        scan(BufReader::new(file), &filter, None, |hit| {
            if let Err(e) = print_entry(ctx, &hit.entry) {
                failed = Some(e);
                return ControlFlow::Break(());
            }
            found += 1;
            if args.limit.is_some_and(|l| found >= l) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| CliError::failed(format!("cannot read {}: {e}", f.display())))?;
        if let Some(e) = failed.take() {
            return Err(e);
        }
    }
    if found == 0 && ctx.output.is_table() {
        eprintln!("no matching entries");
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> SearchArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct P {
            #[command(flatten)]
            a: SearchArgs,
        }
        let mut v = vec!["x", "f.log"];
        v.extend_from_slice(extra);
        P::parse_from(v).a
    }

    fn entry() -> Value {
        json!({"time": "2024-05-01T12:00:00.5Z", "type": "response",
               "auth": {"client_token": "hmac-sha256:abc", "display_name": "token"},
               "request": {"operation": "update", "path": "secret/app", "client_token": "hmac-sha256:abc",
                           "remote_address": "127.0.0.1"},
               "response": {"status_code": 403}, "error": "permission denied"})
    }

    #[test]
    fn search_flags_reach_the_filter() {
        let e = entry();
        let m = |extra: &[&str]| filter_of(&args(extra)).unwrap().matches(&e);
        assert!(m(&[]));
        assert!(m(&["--path", "secret/*"]));
        assert!(!m(&["--path", "secret"]));
        assert!(!m(&["--exclude-path", "secret/*"]));
        assert!(m(&["--operation", "read,update"]));
        assert!(!m(&["--token-hash", "abd"]));
        assert!(m(&["--status", "4xx"]));
        assert!(!m(&["--until", "2024-05-01T12:00:00Z"]));
        assert!(!m(&["--type", "request"]));
        let err = filter_of(&args(&["--status", "nope"])).err().unwrap();
        assert!(err.to_string().contains("--status"), "{err}");
        let err = filter_of(&args(&["--token-hash", "x", "--since", "soon"]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("--since"), "{err}");
    }

    #[test]
    fn human_lines() {
        let l = human_line(&entry()).unwrap();
        assert!(
            l.contains("403 update secret/app by token from 127.0.0.1 token=abc"),
            "{l}"
        );
        assert!(human_line(&json!({"type": "checkpoint"})).is_none());
    }
}
