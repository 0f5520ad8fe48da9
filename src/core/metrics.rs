//! The vault's metrics and the `sys/metrics` rendering (OpenMetrics text
//! for `?format=prometheus`, JSON otherwise), kept in a
//! [`prometheus_client`] registry owned by the core (no process global).
//!
//! Counted as they happen: requests by mount, operation and status class,
//! with a latency histogram by operation (the pipeline's one call site,
//! [`Metrics::observe_request`]); audit write latency and failures (the
//! pipeline times the broker); storage write latency (the barrier reports
//! each durable write through the hook the core installs at construction);
//! failed logins and lockouts by auth method; what engines report through
//! their mount context ([`crate::sdk::Telemetry`]: API key validations by
//! outcome, rotations, revocations). Read from the core when rendered:
//! seal state, barrier key term, locked users, audit device counters, and
//! the token and lease counts (a storage scan, cached for
//! [`COUNTS_MAX_AGE`]).
//!
//! Owns: the series. Must not touch: request contents (no token, secret,
//! request path or user name ever becomes a label; a mount label is the
//! operator-chosen mount path).

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde_json::{json, Map, Value};

use super::Core;
use crate::sdk::telemetry::{ApiKeyOutcome, Event, Telemetry};

/// The content type of the `?format=prometheus` rendering.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

const PREFIX: &str = "vault_rs";

/// The status classes a request can end in.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    mount: String,
    operation: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    device: String,
    #[prometheus(flatten)]
    kind: DeviceKind,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceKind {
    r#type: String,
}

/// Latency buckets: 100µs to ~13s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// The counters and histograms of one vault.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    audit_log_duration: Histogram,
    audit_log_failures: Counter,
    storage_write_duration: Histogram,
    login_failures: Family<MethodLabels, Counter>,
    lockouts: Family<MethodLabels, Counter>,
    apikey_validations: Family<OutcomeLabels, Counter>,
    apikey_rotations: Counter,
    apikey_revocations: Counter,
    /// The last token and lease counts and when they were taken: counting
    /// scans storage, so a scrape reuses counts younger than
    /// [`COUNTS_MAX_AGE`].
    counts: Mutex<Option<(Instant, Counts)>>,
    /// When counting started: the JSON rendering's rates are per second
    /// since then.
    started: Instant,
}

/// How long token and lease counts are reused between scrapes.
pub const COUNTS_MAX_AGE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
struct Counts {
    tokens: i64,
    leases: i64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests served, by mount, operation and status class",
            requests.clone(),
        );
        let request_duration: Family<OperationLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time spent serving requests, by operation",
            request_duration.clone(),
        );
        let audit_log_duration = latency_histogram();
        registry.register(
            "audit_log_duration_seconds",
            "Time spent recording a request or response in the audit devices",
            audit_log_duration.clone(),
        );
        let audit_log_failures = Counter::default();
        registry.register(
            "audit_log_failures",
            "Requests or responses no audit device recorded (refused: fail closed)",
            audit_log_failures.clone(),
        );
        let storage_write_duration = latency_histogram();
        registry.register(
            "storage_write_duration_seconds",
            "Time until a storage write is durable (includes the sync)",
            storage_write_duration.clone(),
        );
        let login_failures = Family::<MethodLabels, Counter>::default();
        registry.register(
            "login_failures",
            "Failed logins, by auth method type",
            login_failures.clone(),
        );
        let lockouts = Family::<MethodLabels, Counter>::default();
        registry.register(
            "user_lockouts",
            "Users locked out after too many failed logins, by auth method type",
            lockouts.clone(),
        );
        let apikey_validations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "apikey_validations",
            "API key validations, by outcome (valid, invalid, revoked)",
            apikey_validations.clone(),
        );
        let apikey_rotations = Counter::default();
        registry.register(
            "apikey_rotations",
            "API key rotations (requested or scheduled)",
            apikey_rotations.clone(),
        );
        let apikey_revocations = Counter::default();
        registry.register(
            "apikey_revocations",
            "API key revocations",
            apikey_revocations.clone(),
        );
        Metrics {
            registry,
            requests,
            request_duration,
            audit_log_duration,
            audit_log_failures,
            storage_write_duration,
            login_failures,
            lockouts,
            apikey_validations,
            apikey_rotations,
            apikey_revocations,
            counts: Mutex::new(None),
            started: Instant::now(),
        }
    }

    /// Token and lease counts, counted at most every [`COUNTS_MAX_AGE`]
    /// (`None`: storage could not be read).
    fn counts(&self, active: &super::Active) -> Option<Counts> {
        let mut cached = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, c)) = *cached {
            if at.elapsed() < COUNTS_MAX_AGE {
                return Some(c);
            }
        }
        let tokens = active.tokens.accessors().ok()?.len();
        let leases = active.expiration.count().ok()?;
        let c = Counts {
            tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
            leases: i64::try_from(leases).unwrap_or(i64::MAX),
        };
        *cached = Some((Instant::now(), c));
        Some(c)
    }

    /// Records one finished request: the mount it was routed to (`""`
    /// when none), its operation and the HTTP status it was answered with.
    pub fn observe_request(&self, mount: &str, operation: &str, status: u16, elapsed: Duration) {
        let class = CLASSES[usize::from((status / 100).clamp(1, 5)) - 1];
        self.requests
            .get_or_create(&RequestLabels {
                mount: mount.to_string(),
                operation: operation.to_string(),
                code: class.to_string(),
            })
            .inc();
        self.request_duration
            .get_or_create(&OperationLabels {
                operation: operation.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one call to the audit broker and whether it failed.
    pub fn observe_audit_log(&self, elapsed: Duration, failed: bool) {
        self.audit_log_duration.observe(elapsed.as_secs_f64());
        if failed {
            self.audit_log_failures.inc();
        }
    }

    /// The histogram the barrier's write hook records into.
    pub(crate) fn storage_write_histogram(&self) -> Histogram {
        self.storage_write_duration.clone()
    }

    /// A failed login on an auth method of type `method`.
    pub fn login_failed(&self, method: &str) {
        self.login_failures
            .get_or_create(&MethodLabels {
                method: method.to_string(),
            })
            .inc();
    }

    /// A user of an auth method of type `method` was locked out.
    pub fn locked_out(&self, method: &str) {
        self.lockouts
            .get_or_create(&MethodLabels {
                method: method.to_string(),
            })
            .inc();
    }

    /// OpenMetrics text exposition.
    pub fn prometheus(&self, core: &Core) -> String {
        let mut out = String::new();
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &scrape_time(self, core));
        let _ = encode_eof(&mut out);
        out
    }

    /// The same series as JSON in the shape Vault's `sys/metrics` gives
    /// (go-metrics' in-memory summary, not an envelope): `Timestamp` (the
    /// start of the current 10-second interval, as go-metrics prints it),
    /// `Gauges` (`{Name, Value, Labels}`), `Counters` and `Samples`
    /// (`{Name, Count, Rate, Sum, Min, Max, Mean, Stddev, Labels}`) and
    /// `Points` (none). vault-rs keeps totals since start, not per-interval
    /// aggregates, so: a counter's `Count` and `Sum` are its total; a
    /// histogram's `Count`, `Sum` and `Mean` are exact, its `Min` and `Max`
    /// the bounds of its lowest and highest non-empty buckets; `Rate` is
    /// `Sum` per second since start; `Stddev` is 0.
    pub fn json(&self, core: &Core) -> Value {
        let text = self.prometheus(core);
        let now = core.clock().now();
        let interval = now.unix_timestamp() - now.unix_timestamp().rem_euclid(10);
        let start = time::OffsetDateTime::from_unix_timestamp(interval).unwrap_or(now);
        let uptime = self.started.elapsed().as_secs_f64().max(1.0);
        go_metrics_summary(&text, &go_timestamp(start), uptime)
    }
}

/// go-metrics' timestamp layout (Go's `time.Time.String()` in UTC).
fn go_timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// One histogram series (a family and its labels other than `le`).
#[derive(Default)]
struct HistogramSeries {
    labels: Map<String, Value>,
    sum: f64,
    count: f64,
    /// (upper bound, cumulative count), in the order of the text.
    buckets: Vec<(f64, f64)>,
}

/// The text exposition as go-metrics' summary (see [`Metrics::json`]).
fn go_metrics_summary(text: &str, timestamp: &str, uptime: f64) -> Value {
    let mut gauges = Vec::new();
    let mut counters = Vec::new();
    let mut histograms: Vec<(String, HistogramSeries)> = Vec::new();
    let mut family = ("", "");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            family = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((name, mut labels, value)) = parse_sample(line) else {
            continue;
        };
        match family.1 {
            "gauge" => gauges.push(json!({"Name": name, "Value": value, "Labels": labels})),
            "counter" => counters.push(aggregate(
                family.0,
                value,
                value,
                (0.0, 0.0),
                uptime,
                labels,
            )),
            "histogram" => {
                let le = labels
                    .remove("le")
                    .and_then(|v| v.as_str().map(str::to_string));
                let pos = match histograms
                    .iter()
                    .position(|(n, h)| n == family.0 && h.labels == labels)
                {
                    Some(i) => i,
                    None => {
                        histograms.push((
                            family.0.to_string(),
                            HistogramSeries {
                                labels,
                                ..HistogramSeries::default()
                            },
                        ));
                        histograms.len() - 1
                    }
                };
                let h = &mut histograms[pos].1;
                match (name.strip_prefix(family.0), le) {
                    (Some("_sum"), _) => h.sum = value,
                    (Some("_count"), _) => h.count = value,
                    (Some("_bucket"), Some(le)) => {
                        let bound = if le == "+Inf" {
                            f64::INFINITY
                        } else {
                            le.parse().unwrap_or(f64::INFINITY)
                        };
                        h.buckets.push((bound, value));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let samples: Vec<Value> = histograms
        .into_iter()
        .map(|(name, h)| {
            let range = bucket_range(&h.buckets, h.count);
            aggregate(&name, h.count, h.sum, range, uptime, h.labels)
        })
        .collect();
    json!({
        "Timestamp": timestamp,
        "Gauges": gauges,
        "Points": [],
        "Counters": counters,
        "Samples": samples,
    })
}

/// go-metrics' `AggregateSample` with `Labels`.
fn aggregate(
    name: &str,
    count: f64,
    sum: f64,
    (min, max): (f64, f64),
    uptime: f64,
    labels: Map<String, Value>,
) -> Value {
    let mean = if count > 0.0 { sum / count } else { 0.0 };
    json!({
        "Name": name,
        "Count": count as u64,
        "Rate": sum / uptime,
        "Sum": sum,
        "Min": min,
        "Max": max,
        "Mean": mean,
        "Stddev": 0.0,
        "Labels": labels,
    })
}

/// The lower bound of the lowest non-empty bucket and the upper bound of
/// the highest (the largest finite bound when it is the `+Inf` one);
/// (0, 0) when nothing was observed.
fn bucket_range(buckets: &[(f64, f64)], count: f64) -> (f64, f64) {
    if count <= 0.0 {
        return (0.0, 0.0);
    }
    let mut sorted = buckets.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let largest_finite = sorted
        .iter()
        .map(|b| b.0)
        .filter(|b| b.is_finite())
        .fold(0.0, f64::max);
    let mut min = 0.0;
    let mut previous = (0.0, 0.0);
    for &(bound, cumulative) in &sorted {
        if cumulative > previous.1 {
            min = previous.0;
            break;
        }
        previous = (bound, cumulative);
    }
    let max = sorted
        .iter()
        .find(|(_, cumulative)| *cumulative >= count)
        .map_or(largest_finite, |(bound, _)| {
            if bound.is_finite() {
                *bound
            } else {
                largest_finite
            }
        });
    (min, max)
}

impl Telemetry for Metrics {
    fn record(&self, event: Event) {
        match event {
            Event::ApiKeyValidation(outcome) => {
                let outcome = match outcome {
                    ApiKeyOutcome::Valid => "valid",
                    ApiKeyOutcome::Invalid => "invalid",
                    ApiKeyOutcome::Revoked => "revoked",
                };
                self.apikey_validations
                    .get_or_create(&OutcomeLabels {
                        outcome: outcome.to_string(),
                    })
                    .inc();
            }
            Event::ApiKeyRotation => {
                self.apikey_rotations.inc();
            }
            Event::ApiKeyRevocation => {
                self.apikey_revocations.inc();
            }
        }
    }
}

/// The series read from the core at scrape time, in a registry of their
/// own built for this scrape.
fn scrape_time(metrics: &Metrics, core: &Core) -> Registry {
    let mut reg = Registry::with_prefix(PREFIX);
    let gauge = |reg: &mut Registry, name: &str, help: &str, value: i64| {
        let g = Gauge::<i64, AtomicI64>::default();
        g.set(value);
        reg.register(name, help, g);
    };
    gauge(
        &mut reg,
        "sealed",
        "1 when the vault is sealed",
        i64::from(core.is_sealed()),
    );
    if let Ok(status) = core.barrier().key_status() {
        gauge(
            &mut reg,
            "barrier_key_term",
            "Active barrier key term",
            i64::from(status.term),
        );
        gauge(
            &mut reg,
            "barrier_encryptions",
            "Values encrypted under the active term since unseal",
            i64::try_from(status.encryptions).unwrap_or(i64::MAX),
        );
    }
    let Ok(active) = core.active() else {
        return reg;
    };
    gauge(
        &mut reg,
        "expiration_hour_buckets",
        "Hour buckets of the lease index held in memory",
        i64::try_from(active.expiration.bucket_count()).unwrap_or(i64::MAX),
    );
    gauge(
        &mut reg,
        "audit_ok",
        "1 when every audit device is healthy",
        i64::from(active.audit.healthy()),
    );
    if let Some(c) = metrics.counts(&active) {
        gauge(
            &mut reg,
            "tokens",
            "Tokens in the token store (counted at most every 10 s)",
            c.tokens,
        );
        gauge(
            &mut reg,
            "leases",
            "Leases in the lease index (counted at most every 10 s)",
            c.leases,
        );
    }
    gauge(
        &mut reg,
        "locked_users",
        "Users currently locked out of an auth method",
        i64::try_from(active.lockout.locked_count(core.clock().unix())).unwrap_or(i64::MAX),
    );
    type Read = fn(&crate::audit::DeviceMetrics) -> u64;
    let series: [(&str, &str, Read); 4] = [
        (
            "audit_lines_written",
            "Lines written per audit device",
            |d| d.lines_written,
        ),
        (
            "audit_write_failures",
            "Failed writes per audit device",
            |d| d.write_failures,
        ),
        (
            "audit_timeouts",
            "Requests that timed out waiting for a device",
            |d| d.timeouts,
        ),
        (
            "audit_dropped",
            "Entries dropped (queue full or writer gone)",
            |d| d.dropped,
        ),
    ];
    let devices = active.audit.metrics();
    for (name, help, read) in series {
        let family = Family::<DeviceLabels, Counter<u64, AtomicU64>>::default();
        for d in &devices {
            family
                .get_or_create(&DeviceLabels {
                    device: d.path.clone(),
                    kind: DeviceKind {
                        r#type: d.kind.clone(),
                    },
                })
                .inc_by(read(d));
        }
        reg.register(name, help, family);
    }
    reg
}

/// `name{a="x",b="y"} value` (label values may hold `\"`, `\\`, `\n`).
fn parse_sample(line: &str) -> Option<(&str, Map<String, Value>, f64)> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut labels = Map::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        let mut key = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = Some(i + 1);
                    break;
                }
                ',' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut val = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => val.push('\n'),
                                other => val.push(other),
                            },
                            other => val.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), Value::String(val));
                }
                other => key.push(other),
            }
        }
        rest = &body[end?..];
    }
    let value = rest.split_whitespace().next()?.parse::<f64>().ok()?;
    Some((name, labels, value))
}

/// What [`Metrics`] renders `prometheus` output as, for tests: the value of
/// the sample `name{labels}` (labels in any order), if present.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(parse_sample)
        .find(|(n, l, _)| {
            *n == name
                && l.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).and_then(Value::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_count_by_mount_operation_and_class() {
        let m = Metrics::new();
        m.observe_request("secret/", "read", 200, Duration::from_millis(2));
        m.observe_request("secret/", "read", 204, Duration::from_millis(2));
        m.observe_request("secret/", "read", 403, Duration::from_millis(2));
        m.observe_request("", "update", 999, Duration::ZERO);
        let mut text = String::new();
        encode_registry(&mut text, &m.registry).unwrap();
        let req = |mount, op, code| {
            sample(
                &text,
                "vault_rs_requests_total",
                &[("mount", mount), ("operation", op), ("code", code)],
            )
        };
        assert_eq!(req("secret/", "read", "2xx"), Some(2.0));
        assert_eq!(req("secret/", "read", "4xx"), Some(1.0));
        assert_eq!(req("", "update", "5xx"), Some(1.0));
        assert_eq!(req("secret/", "update", "2xx"), None);
        assert_eq!(
            sample(
                &text,
                "vault_rs_request_duration_seconds_count",
                &[("operation", "read")]
            ),
            Some(3.0)
        );
    }

    #[test]
    fn engine_events_and_logins() {
        let m = Metrics::new();
        m.record(Event::ApiKeyValidation(ApiKeyOutcome::Valid));
        m.record(Event::ApiKeyValidation(ApiKeyOutcome::Revoked));
        m.record(Event::ApiKeyValidation(ApiKeyOutcome::Revoked));
        m.record(Event::ApiKeyRotation);
        m.login_failed("userpass");
        m.observe_audit_log(Duration::from_millis(1), true);
        let mut text = String::new();
        encode_registry(&mut text, &m.registry).unwrap();
        let outcome = |o| {
            sample(
                &text,
                "vault_rs_apikey_validations_total",
                &[("outcome", o)],
            )
        };
        assert_eq!(outcome("valid"), Some(1.0));
        assert_eq!(outcome("revoked"), Some(2.0));
        assert_eq!(outcome("invalid"), None);
        assert_eq!(
            sample(&text, "vault_rs_apikey_rotations_total", &[]),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "vault_rs_login_failures_total",
                &[("method", "userpass")]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "vault_rs_audit_log_failures_total", &[]),
            Some(1.0)
        );
    }

    #[test]
    fn json_is_go_metrics_summary() {
        let m = Metrics::new();
        m.observe_request("secret/", "read", 200, Duration::from_millis(3));
        m.observe_request("secret/", "read", 404, Duration::from_millis(300));
        m.observe_request("secret/", "read", 204, Duration::from_millis(30));
        let mut text = String::new();
        encode_registry(&mut text, &m.registry).unwrap();
        let json = go_metrics_summary(&text, "2026-01-02 03:04:00 +0000 UTC", 10.0);
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 5, "{keys:?}");
        for k in ["Timestamp", "Gauges", "Points", "Counters", "Samples"] {
            assert!(json.get(k).is_some(), "{k} missing");
        }
        let counter = json["Counters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Name"] == "vault_rs_requests" && c["Labels"]["code"] == "2xx")
            .expect("2xx requests");
        assert_eq!(counter["Count"], 2);
        assert_eq!(counter["Sum"], 2.0);
        assert_eq!(counter["Rate"], 0.2);
        let sample = json["Samples"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Name"] == "vault_rs_request_duration_seconds")
            .expect("latency");
        assert_eq!(sample["Labels"], json!({"operation": "read"}));
        assert_eq!(sample["Count"], 3);
        let sum = sample["Sum"].as_f64().unwrap();
        assert!((sum - 0.333).abs() < 1e-9, "{sum}");
        assert!((sample["Mean"].as_f64().unwrap() - 0.111).abs() < 1e-9);
        let (min, max) = (
            sample["Min"].as_f64().unwrap(),
            sample["Max"].as_f64().unwrap(),
        );
        assert!(min <= 0.003 && min > 0.0005, "{min}");
        assert!((0.3..1.0).contains(&max), "{max}");
        assert_eq!(
            bucket_range(&[(1.0, 0.0), (f64::INFINITY, 0.0)], 0.0),
            (0.0, 0.0)
        );
        assert_eq!(
            bucket_range(&[(1.0, 0.0), (2.0, 0.0), (f64::INFINITY, 1.0)], 1.0),
            (2.0, 2.0)
        );
        assert_eq!(
            go_timestamp(time::macros::datetime!(2026-01-02 03:04:05 UTC)),
            "2026-01-02 03:04:05 +0000 UTC"
        );
    }

    #[test]
    fn label_values_are_escaped_and_parsed_back() {
        let m = Metrics::new();
        m.observe_request("we\"ird\\/", "read", 200, Duration::ZERO);
        let mut text = String::new();
        encode_registry(&mut text, &m.registry).unwrap();
        let json = go_metrics_summary(&text, "t", 1.0);
        let counters = json["Counters"].as_array().unwrap();
        assert_eq!(counters[0]["Labels"]["mount"], "we\"ird\\/");
        assert_eq!(parse_sample("broken{a=\"x"), None);
        assert_eq!(parse_sample("x{a=y} 1"), None);
        assert!(parse_sample("x 1").is_some());
    }
}
