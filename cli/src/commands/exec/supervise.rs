//! The command `exec` runs: starting it with the secrets, forwarding
//! SIGTERM/SIGINT/SIGHUP to it, renewing the token at 2/3 of its TTL while
//! it runs, `--restart-on-change`, and its exit code.
//!
//! Owns: the child process and this process's signal handlers (installed
//! on a small Tokio runtime thread; signals are sent with `nix`). One loop
//! on the calling thread does everything else, waking every [`TICK`].
//!
//! On a change of the secrets: with a reload signal (SIGHUP, SIGUSR1,
//! SIGUSR2) the files are rewritten and the signal sent; with any other
//! signal the child is sent it, given `--kill-timeout` to exit (then
//! SIGKILL), and started again with the new values. A SIGTERM or SIGINT
//! received meanwhile cancels the restart: `exec` exits with the child.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::auth::{renew, Session};
use super::render;
use super::secrets::{fetch, Snapshot, Specs};
use crate::error::{CliError, CmdResult};

/// How often the loop wakes to check the child, timers and signals.
const TICK: Duration = Duration::from_millis(50);
/// Longest wait before retrying a failed renewal.
const MAX_RENEW_RETRY: Duration = Duration::from_secs(10);

/// What `exec` was asked to do with the command.
pub struct Options {
    pub command: Vec<OsString>,
    pub restart_on_change: bool,
    pub poll_interval: Duration,
    pub restart_signal: Signal,
    pub kill_timeout: Duration,
}

/// Parses "SIGTERM", "TERM", "term", "sighup"…
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let upper = text.trim().to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map_err(|_| format!("unknown signal {text:?}"))
}

/// Signals that make a service re-read its files rather than stop.
fn is_reload(signal: Signal) -> bool {
    matches!(signal, Signal::SIGHUP | Signal::SIGUSR1 | Signal::SIGUSR2)
}

fn warn(message: &str) {
    eprintln!("vault-rs exec: {message}");
}

/// Repeats of the same warning are printed at most once per [`REPEAT_AFTER`]
/// (a server that is down would otherwise fill the log every poll).
#[derive(Default)]
struct Throttle {
    last: Option<(String, Instant)>,
}

const REPEAT_AFTER: Duration = Duration::from_secs(60);

impl Throttle {
    fn warn(&mut self, message: String) {
        let repeat = self
            .last
            .as_ref()
            .is_some_and(|(m, at)| *m == message && at.elapsed() < REPEAT_AFTER);
        if !repeat {
            warn(&message);
            self.last = Some((message, Instant::now()));
        }
    }

    fn clear(&mut self) {
        self.last = None;
    }
}

/// Installs handlers for SIGTERM, SIGINT and SIGHUP; each signal received
/// is sent on the returned channel. Returns once the handlers are in place.
fn listen_signals() -> Result<Receiver<Signal>, CliError> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("exec-signals".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(forward_signals(tx, ready_tx)),
                Err(error) => {
                    let _ = ready_tx.send(Err(error.to_string()));
                }
            }
        })
        .map_err(|error| CliError::failed(format!("cannot start the signal thread: {error}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(rx),
        Ok(Err(error)) => Err(CliError::failed(format!(
            "cannot install signal handlers: {error}"
        ))),
        Err(_) => Err(CliError::failed("cannot install signal handlers")),
    }
}

async fn forward_signals(tx: Sender<Signal>, ready: Sender<Result<(), String>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let streams = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    );
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = streams else {
        let _ = ready.send(Err("the OS refused a handler".into()));
        return;
    };
    let _ = ready.send(Ok(()));
    loop {
        let received = tokio::select! {
            _ = term.recv() => Signal::SIGTERM,
            _ = int.recv() => Signal::SIGINT,
            _ = hup.recv() => Signal::SIGHUP,
        };
        if tx.send(received).is_err() {
            break;
        }
    }
}

/// The exit code `exec` reports for the child's `status`.
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    let signal = status.signal().unwrap_or(0);
    u8::try_from(128 + signal).unwrap_or(255)
}

/// Starts the command with the snapshot's variables (and without
/// `VAULT_TOKEN`, unless an `--env` sets it); on failure, prints why
/// and returns the shell's exit code for it (127 not found, 126 not runnable).
fn spawn(command: &[OsString], snapshot: &Snapshot) -> Result<Child, u8> {
    let Some((program, args)) = command.split_first() else {
        return Err(2);
    };
    let mut cmd = Command::new(program);
    // The token exec itself used is not the service's to keep.
    cmd.args(args).env_remove("VAULT_TOKEN");
    for (name, value) in &snapshot.env {
        cmd.env(name, value.expose());
    }
    cmd.spawn().map_err(|error| {
        eprintln!("Error: cannot run {}: {error}", program.to_string_lossy());
        match error.kind() {
            std::io::ErrorKind::NotFound => 127,
            std::io::ErrorKind::PermissionDenied => 126,
            _ => 1,
        }
    })
}

/// Sends `signal` to the (not yet reaped) child.
fn send(child: &Child, signal: Signal) {
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    if let Err(error) = kill(Pid::from_raw(pid), signal) {
        warn(&format!("cannot send {signal} to the command: {error}"));
    }
}

/// When the token is renewed next.
struct Renewal {
    next: Option<Instant>,
    ttl: u64,
    failures: Throttle,
    /// The maximum-TTL warning was printed.
    capped: bool,
}

impl Renewal {
    fn new(session: &Session) -> Renewal {
        let mut r = Renewal {
            next: None,
            ttl: session.ttl,
            failures: Throttle::default(),
            capped: false,
        };
        if session.renewable {
            r.schedule(session.ttl);
        }
        r
    }

    /// Next renewal at 2/3 of `ttl` (none for a token that never expires).
    /// TTLs are whole seconds, so up to one second of it may already be
    /// gone: 2/3 is taken of `ttl - 1`.
    fn schedule(&mut self, ttl: u64) {
        self.ttl = ttl;
        self.next = (ttl > 0).then(|| {
            let wait = (Duration::from_secs(ttl.saturating_sub(1)) * 2 / 3)
                .max(Duration::from_millis(500));
            Instant::now() + wait
        });
    }

    fn tick(&mut self, session: &Session) {
        let Some(at) = self.next else { return };
        if Instant::now() < at {
            return;
        }
        match renew(session) {
            Ok(ttl) => {
                self.failures.clear();
                // A renewal that gives back less than before (beyond the
                // one-second rounding) has hit the token's maximum TTL.
                if ttl.saturating_add(1) < self.ttl && !self.capped {
                    self.capped = true;
                    warn(&format!(
                        "the token is reaching its maximum TTL and expires in {ttl}s"
                    ));
                }
                if ttl <= 1 {
                    self.next = None;
                } else {
                    self.schedule(ttl);
                }
            }
            Err(error) => {
                self.failures
                    .warn(format!("token renewal failed (will retry): {error}"));
                let retry = (Duration::from_secs(self.ttl) / 6)
                    .clamp(Duration::from_secs(1), MAX_RENEW_RETRY);
                self.next = Some(Instant::now() + retry);
            }
        }
    }
}

/// A restart in progress: the child was signalled and must exit by
/// `deadline`; then it starts again with `next`.
struct Restart {
    deadline: Instant,
    next: Snapshot,
    killed: bool,
}

struct Supervisor<'a> {
    session: Session,
    specs: &'a Specs,
    options: Options,
    current: Snapshot,
    child: Child,
    renewal: Renewal,
    next_poll: Instant,
    restart: Option<Restart>,
    /// SIGTERM or SIGINT was forwarded: no more restarts.
    stopping: bool,
    fetch_failures: Throttle,
}

/// Runs the command until it exits; returns its exit code.
pub fn run(session: Session, specs: &Specs, snapshot: Snapshot, options: Options) -> CmdResult {
    let signals = listen_signals()?;
    render::write_files(&snapshot)?;
    let child = match spawn(&options.command, &snapshot) {
        Ok(child) => child,
        Err(code) => return Ok(code),
    };
    let mut sup = Supervisor {
        renewal: Renewal::new(&session),
        next_poll: Instant::now() + options.poll_interval,
        session,
        specs,
        options,
        current: snapshot,
        child,
        restart: None,
        stopping: false,
        fetch_failures: Throttle::default(),
    };
    sup.run(&signals)
}

impl Supervisor<'_> {
    fn run(&mut self, signals: &Receiver<Signal>) -> CmdResult {
        loop {
            let status = self.child.try_wait().map_err(|error| {
                CliError::failed(format!("cannot wait for the command: {error}"))
            })?;
            if let Some(status) = status {
                if let Some(code) = self.after_exit(status) {
                    return Ok(code);
                }
                continue;
            }
            match signals.recv_timeout(TICK) {
                Ok(signal) => self.on_signal(signal),
                Err(RecvTimeoutError::Timeout) => {}
                // No more signals can come; keep the loop's pace anyway.
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
            }
            self.renewal.tick(&self.session);
            self.check_restart_deadline();
            self.poll();
        }
    }

    /// The child exited: start it again if a restart was pending, else
    /// return the exit code to report.
    fn after_exit(&mut self, status: ExitStatus) -> Option<u8> {
        let restart = self.restart.take();
        let Some(restart) = restart.filter(|_| !self.stopping) else {
            return Some(exit_code(status));
        };
        if let Err(error) = render::write_files(&restart.next) {
            warn(&error.to_string());
        }
        match spawn(&self.options.command, &restart.next) {
            Ok(child) => {
                self.child = child;
                self.current = restart.next;
                self.next_poll = Instant::now() + self.options.poll_interval;
                None
            }
            Err(code) => Some(code),
        }
    }

    fn on_signal(&mut self, signal: Signal) {
        if matches!(signal, Signal::SIGTERM | Signal::SIGINT) {
            self.stopping = true;
        }
        send(&self.child, signal);
    }

    fn check_restart_deadline(&mut self) {
        let Some(restart) = self.restart.as_mut() else {
            return;
        };
        if !restart.killed && Instant::now() >= restart.deadline {
            warn("the command did not exit in time for the restart; killing it");
            restart.killed = true;
            let _ = self.child.kill();
        }
    }

    /// Re-reads the secrets when due and acts on a change.
    fn poll(&mut self) {
        if !self.options.restart_on_change || self.restart.is_some() || self.stopping {
            return;
        }
        if Instant::now() < self.next_poll {
            return;
        }
        self.next_poll = Instant::now() + self.options.poll_interval;
        match fetch(&self.session.client, self.specs) {
            Ok(next) => {
                self.fetch_failures.clear();
                if !next.same_as(&self.current) {
                    self.on_change(next);
                }
            }
            Err(error) => self
                .fetch_failures
                .warn(format!("cannot re-read the secrets (will retry): {error}")),
        }
    }

    fn on_change(&mut self, next: Snapshot) {
        let signal = self.options.restart_signal;
        if is_reload(signal) {
            warn(&format!(
                "secrets changed; rewriting the files and sending {signal}"
            ));
            if let Err(error) = render::write_files(&next) {
                warn(&error.to_string());
            }
            self.current = next;
            send(&self.child, signal);
            return;
        }
        warn(&format!(
            "secrets changed; restarting the command ({signal})"
        ));
        send(&self.child, signal);
        self.restart = Some(Restart {
            deadline: Instant::now() + self.options.kill_timeout,
            next,
            killed: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("SIGTERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("hup"), Ok(Signal::SIGHUP));
        assert_eq!(parse_signal("SigUsr1"), Ok(Signal::SIGUSR1));
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(is_reload(Signal::SIGHUP));
        assert!(!is_reload(Signal::SIGTERM));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 143);
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
    }
}
