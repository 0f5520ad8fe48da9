//! Audit devices: one writer thread per device, fed by a bounded channel.
//!
//! The caller renders the entry (with the device's salt) and queues it with
//! an acknowledgement; the writer drains the queue in batches, links every
//! line into the hash chain, adds headers and signed checkpoints, writes the
//! batch at once and syncs it according to the fsync policy (`batch`: one
//! fsync per batch, so concurrent requests share it — group commit), then
//! acknowledges every entry of the batch. A failed write acknowledges the
//! batch as failed, rolls the chain back and makes the next write start a
//! new session (reopen, recover the chain from the file's tail, header).

mod file;
mod socket;
mod stdout;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;

use super::chain::{self, ChainState, HeaderFlags};
use super::entry::{now_rfc3339, Hasher};
use super::error::AuditError;
use super::DeviceConfig;
use crate::crypto::SecretBytes;

/// How long a failure keeps a device reported as unhealthy.
pub(crate) const UNHEALTHY_FOR: Duration = Duration::from_secs(30);
/// Most entries written by one write call.
const MAX_BATCH: usize = 512;
/// Most bytes written by one write call (a batch stops growing past it).
const MAX_BATCH_BYTES: usize = 4 << 20;

/// When the writer makes written lines durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// One fsync per batch of queued entries (group commit). Default.
    Batch,
    /// One write and one fsync per entry (a read's request entry shares
    /// its response entry's).
    Always,
    /// No fsync: acknowledged once the OS has the bytes.
    Never,
}

/// Options every device type understands.
#[derive(Clone, Debug)]
pub struct Settings {
    pub hmac_accessor: bool,
    pub log_raw: bool,
    /// How long a request waits for this device before counting it failed.
    pub timeout: Duration,
    pub checkpoint_entries: u64,
    pub checkpoint_interval: Duration,
    pub fsync: FsyncPolicy,
    pub queue_size: usize,
}

fn opt_bool(o: &BTreeMap<String, String>, k: &str, default: bool) -> Result<bool, AuditError> {
    match o.get(k).map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some(v) => crate::sdk::parse_bool(v)
            .ok_or_else(|| bad(format!("option \"{k}\" must be true or false"))),
    }
}

fn opt_duration(
    o: &BTreeMap<String, String>,
    k: &str,
    default: Duration,
) -> Result<Duration, AuditError> {
    match o.get(k).map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some(s) => {
            let d = match s.parse::<u64>() {
                Ok(secs) => Duration::from_secs(secs),
                Err(_) => humantime::parse_duration(s)
                    .map_err(|_| bad(format!("option \"{k}\" must be a duration like \"2s\"")))?,
            };
            if d.is_zero() {
                return Err(bad(format!("option \"{k}\" must be greater than zero")));
            }
            Ok(d)
        }
    }
}

fn opt_u64(
    o: &BTreeMap<String, String>,
    k: &str,
    default: u64,
    min: u64,
) -> Result<u64, AuditError> {
    match o.get(k).map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(bad(format!(
                "option \"{k}\" must be an integer of at least {min}"
            ))),
        },
    }
}

fn bad(m: String) -> AuditError {
    AuditError::BadRequest(m)
}

impl Settings {
    /// Parses the common options of `config`.
    pub fn parse(config: &DeviceConfig) -> Result<Settings, AuditError> {
        let o = &config.options;
        let default_timeout = opt_duration(o, "write_timeout", Duration::from_secs(2))?;
        let fsync = match o.get("fsync").map(|s| s.trim()) {
            None | Some("") | Some("batch") => FsyncPolicy::Batch,
            Some("always") => FsyncPolicy::Always,
            Some("never" | "none" | "off") => FsyncPolicy::Never,
            Some(_) => return Err(bad("option \"fsync\" must be batch, always or never".into())),
        };
        match o.get("format").map(|s| s.trim()) {
            None | Some("") | Some("json") => {}
            Some(_) => return Err(bad("option \"format\": only \"json\" is supported".into())),
        }
        Ok(Settings {
            hmac_accessor: opt_bool(o, "hmac_accessor", true)?,
            log_raw: opt_bool(o, "log_raw", false)?,
            timeout: opt_duration(o, "timeout", default_timeout)?,
            checkpoint_entries: opt_u64(o, "checkpoint_entries", 100, 1)?,
            checkpoint_interval: opt_duration(o, "checkpoint_interval", Duration::from_secs(5))?,
            fsync,
            queue_size: opt_u64(o, "queue_size", 1024, 1)? as usize,
        })
    }
}

/// The end of what a destination already holds (for chain recovery).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// The destination cannot be read back (sockets, stdout, devices).
    Unknown,
    Empty,
    /// The last line, complete (its newline excluded).
    Complete(Vec<u8>),
    /// An incomplete last line and the complete line before it, if any.
    Partial {
        partial: Vec<u8>,
        before: Option<Vec<u8>>,
    },
}

/// Where a device's bytes go.
pub(crate) trait Sink: Send {
    fn open(&mut self) -> io::Result<()>;
    fn is_open(&self) -> bool;
    fn close(&mut self);
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    fn sync(&mut self) -> io::Result<()>;
    /// What the destination ends with (only files can tell).
    fn tail(&mut self) -> io::Result<Tail> {
        Ok(Tail::Unknown)
    }
    /// Whether SIGHUP should reopen it.
    fn reopens(&self) -> bool {
        false
    }
    /// Whether the stream restarts on failure (sockets): the chain cannot be
    /// recovered from the far end.
    fn is_stream(&self) -> bool {
        false
    }
}

/// Builds the sink for a device type.
fn sink_for(config: &DeviceConfig, settings: &Settings) -> Result<Box<dyn Sink>, AuditError> {
    match config.kind.as_str() {
        "file" => file::from_options(&config.options),
        "socket" => socket::from_options(&config.options, settings.timeout),
        "stdout" => Ok(Box::new(stdout::StdoutSink::new())),
        other => Err(bad(format!(
            "unknown backend type: \"{other}\" (audit device types: file, socket, stdout)"
        ))),
    }
}

/// Waits for the first device to record an entry.
pub(crate) struct Ack {
    state: Mutex<(usize, usize)>,
    cv: Condvar,
}

impl Ack {
    pub(crate) fn new() -> Ack {
        Ack {
            state: Mutex::new((0, 0)),
            cv: Condvar::new(),
        }
    }

    fn done(&self, ok: bool) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            st.0 += 1;
        } else {
            st.1 += 1;
        }
        self.cv.notify_all();
    }

    /// (succeeded, failed) so far.
    pub(crate) fn counts(&self) -> (usize, usize) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until one of `queued` devices succeeded (true), all failed or
    /// `timeout` passed (false).
    pub(crate) fn wait(&self, queued: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if st.0 > 0 {
                return true;
            }
            if st.1 >= queued {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = match self.cv.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

enum Msg {
    /// An entry, after the entry that must precede it in the same batch
    /// (a read's request entry, written with its response entry).
    Entry {
        before: Option<String>,
        body: String,
        ack: Arc<Ack>,
    },
    Wake,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Counters of one device (for health and metrics).
#[derive(Default)]
pub(crate) struct Stats {
    written: AtomicU64,
    bytes: AtomicU64,
    batches: AtomicU64,
    checkpoints: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
    dropped: AtomicU64,
    dropped_unreported: AtomicU64,
    queued: AtomicU64,
    last_failure_ms: AtomicU64,
    busy_since_ms: AtomicU64,
}

impl Stats {
    fn fail(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.last_failure_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// A snapshot of one device's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceMetrics {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub healthy: bool,
    /// Lines written (entries, headers, checkpoints).
    pub lines_written: u64,
    pub bytes_written: u64,
    pub batches: u64,
    pub checkpoints: u64,
    /// Failed writes (each fails a whole batch).
    pub write_failures: u64,
    /// Requests that gave up waiting for this device.
    pub timeouts: u64,
    /// Entries not queued because the queue was full or the writer gone.
    pub dropped: u64,
    pub queue_depth: u64,
}

/// An enabled device: its configuration, its hasher and its writer.
pub(crate) struct Device {
    pub config: DeviceConfig,
    pub settings: Settings,
    pub hasher: Hasher,
    tx: Option<SyncSender<Msg>>,
    stats: Arc<Stats>,
    reopen: Arc<AtomicBool>,
    done: Mutex<Option<Receiver<()>>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("path", &self.config.path)
            .field("type", &self.config.kind)
            .finish()
    }
}

impl Device {
    /// Starts a device. With `check`, the destination must open now
    /// (enabling); otherwise (unseal) a destination that cannot be opened
    /// yet is retried on every write and fails closed meanwhile.
    pub fn start(
        config: DeviceConfig,
        salt: SecretBytes,
        key: Arc<SigningKey>,
        check: bool,
    ) -> Result<Device, AuditError> {
        let settings = Settings::parse(&config)?;
        let mut sink = sink_for(&config, &settings)?;
        match sink.open() {
            Ok(()) => {}
            Err(e) if check => {
                return Err(bad(format!(
                    "audit device {}: cannot open its destination: {}",
                    config.path,
                    e.kind()
                )))
            }
            Err(e) => {
                tracing::error!(device = %config.path, error = %e.kind(), "audit device cannot open its destination")
            }
        }
        let hasher = Hasher::new(salt, settings.hmac_accessor, settings.log_raw);
        let (tx, rx) = sync_channel(settings.queue_size);
        let (done_tx, done_rx) = sync_channel(1);
        let stats = Arc::new(Stats::default());
        let reopen = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            sink,
            rx,
            key,
            device: config.path.clone(),
            settings: settings.clone(),
            stats: stats.clone(),
            reopen: reopen.clone(),
            chain: ChainState::default(),
            known: false,
            session_open: false,
            since_checkpoint: 0,
            unsigned_since: None,
            retry_after: None,
        };
        std::thread::Builder::new()
            .name(format!("audit-{}", config.path.trim_end_matches('/')))
            .spawn(move || {
                writer.run();
                let _ = done_tx.send(());
            })
            .map_err(|e| AuditError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Device {
            config,
            settings,
            hasher,
            tx: Some(tx),
            stats,
            reopen,
            done: Mutex::new(Some(done_rx)),
        })
    }

    /// Queues a rendered entry; false if it could not be queued.
    pub fn submit(&self, body: String, ack: Arc<Ack>) -> bool {
        self.submit_after(None, body, ack)
    }

    /// Queues a rendered entry preceded by `before` (written in the same
    /// batch, so made durable by the same sync); `ack` is told once, for
    /// both. False if they could not be queued.
    pub fn submit_after(&self, before: Option<String>, body: String, ack: Arc<Ack>) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(Msg::Entry { before, body, ack }) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .dropped_unreported
                    .fetch_add(1, Ordering::Relaxed);
                self.stats.fail();
                false
            }
        }
    }

    /// Records that a request gave up waiting for this device.
    pub fn timed_out(&self) {
        self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
        self.stats
            .last_failure_ms
            .store(now_ms(), Ordering::Relaxed);
    }

    /// Asks the writer to reopen its destination (SIGHUP, log rotation).
    pub fn request_reopen(&self) {
        self.reopen.store(true, Ordering::SeqCst);
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(Msg::Wake);
        }
    }

    /// No failure or timeout within [`UNHEALTHY_FOR`], and not stuck in a
    /// write for longer than its timeout.
    pub fn healthy(&self) -> bool {
        let now = now_ms();
        let last = self.stats.last_failure_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < UNHEALTHY_FOR.as_millis() as u64 {
            return false;
        }
        let busy = self.stats.busy_since_ms.load(Ordering::Relaxed);
        !(busy != 0 && now.saturating_sub(busy) > self.settings.timeout.as_millis() as u64)
    }

    pub fn metrics(&self) -> DeviceMetrics {
        let s = &self.stats;
        DeviceMetrics {
            path: self.config.path.clone(),
            kind: self.config.kind.clone(),
            healthy: self.healthy(),
            lines_written: s.written.load(Ordering::Relaxed),
            bytes_written: s.bytes.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            checkpoints: s.checkpoints.load(Ordering::Relaxed),
            write_failures: s.failures.load(Ordering::Relaxed),
            timeouts: s.timeouts.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            queue_depth: s.queued.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Device {
    /// Closes the queue; the writer drains it, writes a final checkpoint and
    /// exits. Waits for that, bounded by the device's timeout.
    fn drop(&mut self) {
        self.tx = None;
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(done) = done {
            let _ = done.recv_timeout(self.settings.timeout + Duration::from_secs(1));
        }
    }
}

struct Pending {
    ack: Arc<Ack>,
}

/// The lines of a batch, each with the acknowledgement it completes (none
/// for a line that is acknowledged with the line after it).
type Lines = Vec<(String, Option<Pending>)>;

/// The writer thread of one device.
struct Writer {
    sink: Box<dyn Sink>,
    rx: Receiver<Msg>,
    key: Arc<SigningKey>,
    device: String,
    settings: Settings,
    stats: Arc<Stats>,
    reopen: Arc<AtomicBool>,
    chain: ChainState,
    /// Whether `chain` reflects lines this writer wrote (vs. a fresh state).
    known: bool,
    /// Whether the current session's header was written.
    session_open: bool,
    since_checkpoint: u64,
    unsigned_since: Option<Instant>,
    /// After a failure, timer-driven writes wait until then.
    retry_after: Option<Instant>,
}

/// A batch being assembled: its bytes and how many lines and checkpoints.
struct Batch {
    buf: Vec<u8>,
    lines: u64,
    checkpoints: u64,
}

impl Batch {
    fn push(&mut self, line: &str) {
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        self.lines += 1;
    }
}

impl Writer {
    fn run(mut self) {
        loop {
            let mut wait = match self.unsigned_since {
                Some(t) => self
                    .settings
                    .checkpoint_interval
                    .saturating_sub(t.elapsed()),
                None => Duration::from_secs(1),
            };
            if let Some(r) = self.retry_after {
                wait = wait.max(r.saturating_duration_since(Instant::now()));
            }
            let mut entries: Lines = Vec::new();
            let mut disconnected = false;
            match self.rx.recv_timeout(wait) {
                Ok(msg) => {
                    self.take(msg, &mut entries);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => disconnected = true,
            }
            let max = if self.settings.fsync == FsyncPolicy::Always {
                1
            } else {
                MAX_BATCH
            };
            let mut bytes: usize = entries.iter().map(|(b, _)| b.len()).sum();
            while !disconnected && entries.len() < max && bytes < MAX_BATCH_BYTES {
                match self.rx.try_recv() {
                    Ok(msg) => bytes += self.take(msg, &mut entries),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => disconnected = true,
                }
            }
            if self.reopen.swap(false, Ordering::SeqCst) {
                self.reopen_sink();
            }
            let due = self
                .unsigned_since
                .is_some_and(|t| t.elapsed() >= self.settings.checkpoint_interval)
                && self.retry_after.is_none_or(|r| Instant::now() >= r);
            if !entries.is_empty() || due {
                self.write(entries, due);
            }
            if disconnected {
                break;
            }
        }
        self.finish();
    }

    /// Adds an entry to the batch; returns its size.
    fn take(&self, msg: Msg, entries: &mut Lines) -> usize {
        match msg {
            Msg::Entry { before, body, ack } => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                let mut n = body.len();
                if let Some(first) = before {
                    n += first.len();
                    entries.push((first, None));
                }
                entries.push((body, Some(Pending { ack })));
                n
            }
            Msg::Wake => 0,
        }
    }

    /// Makes sure the sink is open and the chain state is known; returns the
    /// header flags of the new session if one must start.
    fn prepare(&mut self) -> io::Result<Option<(HeaderFlags, bool)>> {
        if !self.sink.is_open() {
            self.session_open = false;
            self.sink.open()?;
        }
        if self.session_open {
            return Ok(None);
        }
        let mut flags = HeaderFlags::default();
        let mut newline = false;
        let written_to = self.known.then(|| self.chain.clone());
        match self.sink.tail()? {
            Tail::Unknown | Tail::Empty => {}
            Tail::Complete(last) => {
                self.chain.prev = chain::line_hash(&last);
                if let Some(seq) = seq_of(&last) {
                    self.chain.next_seq = seq + 1;
                }
            }
            Tail::Partial { partial, before } => {
                newline = true;
                flags.torn_line = true;
                self.chain.prev = chain::line_hash(&partial);
                // The torn line may have used the next seq: skip it.
                if let Some(seq) = before.as_deref().and_then(seq_of) {
                    self.chain.next_seq = seq + 2;
                } else {
                    self.chain.next_seq += 1;
                }
            }
        }
        if let Some(w) = written_to {
            if self.chain.next_seq < w.next_seq && !self.sink.is_stream() {
                // Lines this writer wrote are gone from the file.
                flags.lost_from_seq = Some(self.chain.next_seq);
                self.chain.next_seq = w.next_seq;
            }
        }
        Ok(Some((flags, newline)))
    }

    /// Writes `entries` (and a checkpoint if due or `force_checkpoint`) as
    /// one batch, then acknowledges them.
    fn write(&mut self, entries: Lines, force_checkpoint: bool) {
        if entries.is_empty() && self.since_checkpoint == 0 {
            return;
        }
        let before = (
            self.chain.clone(),
            self.since_checkpoint,
            self.unsigned_since,
        );
        let result = self.prepare().and_then(|session| {
            let mut batch = Batch {
                buf: Vec::new(),
                lines: 0,
                checkpoints: 0,
            };
            if let Some((flags, newline)) = session {
                if newline {
                    batch.buf.push(b'\n');
                }
                let time = now_rfc3339();
                batch.push(&chain::header_line(
                    &self.key,
                    &self.device,
                    &time,
                    flags,
                    &mut self.chain,
                ));
                self.note_unsigned();
            }
            let dropped = self.stats.dropped_unreported.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let body = format!(
                    "{{\"type\":\"{}\",\"time\":\"{}\",\"count\":{dropped}}}",
                    chain::TYPE_DROPPED,
                    now_rfc3339()
                );
                batch.push(&self.chain.link(&body));
                self.note_unsigned();
            }
            for (body, _) in &entries {
                batch.push(&self.chain.link(body));
                self.note_unsigned();
                if self.since_checkpoint >= self.settings.checkpoint_entries {
                    self.checkpoint(&mut batch);
                }
            }
            if force_checkpoint && self.since_checkpoint > 0 {
                self.checkpoint(&mut batch);
            }
            self.stats
                .busy_since_ms
                .store(now_ms().max(1), Ordering::Relaxed);
            let r = self
                .sink
                .write_all(&batch.buf)
                .and_then(|()| match self.settings.fsync {
                    FsyncPolicy::Never => Ok(()),
                    FsyncPolicy::Batch | FsyncPolicy::Always => self.sink.sync(),
                });
            self.stats.busy_since_ms.store(0, Ordering::Relaxed);
            r.map(|()| batch)
        });
        match result {
            Ok(batch) => {
                self.retry_after = None;
                self.session_open = true;
                self.known = true;
                self.stats.written.fetch_add(batch.lines, Ordering::Relaxed);
                self.stats
                    .bytes
                    .fetch_add(batch.buf.len() as u64, Ordering::Relaxed);
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .checkpoints
                    .fetch_add(batch.checkpoints, Ordering::Relaxed);
                for p in entries.into_iter().filter_map(|(_, p)| p) {
                    p.ack.done(true);
                }
            }
            Err(e) => {
                tracing::error!(device = %self.device, error = %e.kind(), "audit device write failed");
                (self.chain, self.since_checkpoint, self.unsigned_since) = before;
                self.session_open = false;
                self.sink.close();
                self.stats.fail();
                self.retry_after = Some(Instant::now() + Duration::from_secs(1));
                for p in entries.into_iter().filter_map(|(_, p)| p) {
                    p.ack.done(false);
                }
            }
        }
    }

    fn note_unsigned(&mut self) {
        self.since_checkpoint += 1;
        if self.unsigned_since.is_none() {
            self.unsigned_since = Some(Instant::now());
        }
    }

    fn checkpoint(&mut self, batch: &mut Batch) {
        let time = now_rfc3339();
        batch.push(&chain::checkpoint_line(
            &self.key,
            &self.device,
            &time,
            &mut self.chain,
        ));
        batch.checkpoints += 1;
        self.since_checkpoint = 0;
        self.unsigned_since = None;
    }

    /// Closes the current destination (after a final checkpoint) and opens
    /// it again by name; the next write starts a session that continues
    /// the chain.
    fn reopen_sink(&mut self) {
        if !self.sink.reopens() {
            return;
        }
        if self.since_checkpoint > 0 && self.sink.is_open() && self.session_open {
            self.write(Vec::new(), true);
        }
        self.sink.close();
        self.session_open = false;
        if let Err(e) = self.sink.open() {
            tracing::error!(device = %self.device, error = %e.kind(), "audit device cannot reopen its destination");
        }
    }

    fn finish(&mut self) {
        if self.since_checkpoint > 0 && self.sink.is_open() && self.session_open {
            self.write(Vec::new(), true);
        }
        self.sink.close();
    }
}

/// The `seq` of a line, if it is an audit line.
pub(crate) fn seq_of(line: &[u8]) -> Option<u64> {
    chain::parse_top(line).map(|t| t.seq)
}

#[cfg(test)]
pub(crate) mod testing {
    //! A sink in memory, for unit and property tests.
    use super::*;

    /// Shared bytes and a switch that makes writes fail.
    #[derive(Clone, Default)]
    pub struct MemSink {
        pub bytes: Arc<Mutex<Vec<u8>>>,
        pub fail: Arc<AtomicBool>,
        open: bool,
    }

    impl Sink for MemSink {
        fn open(&mut self) -> io::Result<()> {
            self.open = true;
            Ok(())
        }
        fn is_open(&self) -> bool {
            self.open
        }
        fn close(&mut self) {
            self.open = false;
        }
        fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(io::Error::other("injected failure"));
            }
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(())
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn tail(&mut self) -> io::Result<Tail> {
            Ok(file::tail_of(&self.bytes.lock().unwrap()))
        }
        fn reopens(&self) -> bool {
            true
        }
    }

    /// Drives a writer synchronously over `sink`: `ops` are entry bodies
    /// (`Some`) or reopen requests (`None`); closes at the end.
    pub fn write_log(
        sink: MemSink,
        key: Arc<SigningKey>,
        every: u64,
        ops: Vec<Option<String>>,
    ) -> Vec<bool> {
        let (_tx, rx) = sync_channel(1);
        let settings = Settings {
            hmac_accessor: true,
            log_raw: false,
            timeout: Duration::from_secs(2),
            checkpoint_entries: every,
            checkpoint_interval: Duration::from_secs(3600),
            fsync: FsyncPolicy::Batch,
            queue_size: 16,
        };
        let mut w = Writer {
            sink: Box::new(sink),
            rx,
            key,
            device: "mem/".into(),
            settings,
            stats: Arc::new(Stats::default()),
            reopen: Arc::new(AtomicBool::new(false)),
            chain: ChainState::default(),
            known: false,
            session_open: false,
            since_checkpoint: 0,
            unsigned_since: None,
            retry_after: None,
        };
        let mut oks = Vec::new();
        for op in ops {
            match op {
                Some(body) => {
                    let ack = Arc::new(Ack::new());
                    w.write(vec![(body, Some(Pending { ack: ack.clone() }))], false);
                    oks.push(ack.wait(1, Duration::from_millis(1)));
                }
                None => w.reopen_sink(),
            }
        }
        w.finish();
        oks
    }
}
