//! The benchmark harness's baseline (`scripts/bench.sh`): the least an axum
//! server can do for a request, to compare the vault against.
//!
//! Answers every method and path with `200` and the same JSON body of
//! exactly `--body-bytes` bytes (the size of the vault's KV v2 read answer),
//! after reading the request body. Listens on `--listen` (default
//! `127.0.0.1:0`) and prints `Listening on http://ADDR` once bound, as the
//! vault's server does.
//!
//! Owns: nothing of the vault; it links neither the library nor its
//! configuration. Must not: do any work per request beyond what axum does.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::Router;

/// The JSON body: `{"data":"xxx…"}` padded to `len` bytes (at least the
/// size of the empty object).
fn body(len: usize) -> Bytes {
    const FRAME: usize = r#"{"data":""}"#.len();
    let pad = "x".repeat(len.saturating_sub(FRAME));
    Bytes::from(format!(r#"{{"data":"{pad}"}}"#))
}

struct Args {
    listen: String,
    body_bytes: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:0".to_string(),
        body_bytes: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => args.listen = value()?,
            "--body-bytes" => {
                let v = value()?;
                args.body_bytes = v
                    .parse()
                    .map_err(|_| format!("--body-bytes: not a number: {v}"))?;
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "bench-baseline: {e}\nusage: bench-baseline [--listen ADDR] [--body-bytes N]"
            );
            return ExitCode::from(2);
        }
    };
    let answer = body(args.body_bytes);
    let app = Router::new().fallback(move |_request_body: Bytes| {
        let answer = answer.clone();
        async move { ([(CONTENT_TYPE, "application/json")], answer) }
    });
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench-baseline: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("Listening on http://{addr}"),
        Err(e) => {
            eprintln!("bench-baseline: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("bench-baseline: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::body;

    #[test]
    fn body_has_the_requested_size_and_is_json() {
        for len in [0, 11, 12, 300, 4096] {
            let b = body(len);
            assert_eq!(b.len(), len.max(11));
            let s = std::str::from_utf8(&b).unwrap();
            assert!(s.starts_with(r#"{"data":""#) && s.ends_with(r#""}"#), "{s}");
        }
    }
}
