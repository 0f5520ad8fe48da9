//! Request counters and the `sys/metrics` rendering (Prometheus text or
//! JSON). Counters are plain atomics updated by the HTTP layer once per
//! request; everything else is read from the core when rendered.
//!
//! Owns: the counters. Must not touch: request contents (no path, token or
//! data ever becomes a label).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use super::Core;

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Process-wide request counters.
#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    duration_micros: AtomicU64,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, status: u16, elapsed: Duration) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.duration_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        self.by_class
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Prometheus text exposition format (0.0.4).
    pub fn prometheus(&self, core: &Core) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP vault_rs_requests_total HTTP requests served, by status class."
        );
        let _ = writeln!(out, "# TYPE vault_rs_requests_total counter");
        for (i, class) in CLASSES.iter().enumerate() {
            let n = self.by_class[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "vault_rs_requests_total{{code=\"{class}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP vault_rs_request_duration_seconds Time spent serving requests."
        );
        let _ = writeln!(out, "# TYPE vault_rs_request_duration_seconds summary");
        let secs = self.duration_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "vault_rs_request_duration_seconds_sum {secs}");
        let _ = writeln!(
            out,
            "vault_rs_request_duration_seconds_count {}",
            self.total()
        );
        gauge(
            &mut out,
            "vault_rs_sealed",
            "1 when the vault is sealed.",
            u64::from(core.is_sealed()),
        );
        if let Ok(status) = core.barrier().key_status() {
            gauge(
                &mut out,
                "vault_rs_barrier_key_term",
                "Active barrier key term.",
                u64::from(status.term),
            );
            gauge(
                &mut out,
                "vault_rs_barrier_encryptions",
                "Values encrypted under the active term since unseal.",
                status.encryptions,
            );
        }
        if let Ok(active) = core.active() {
            gauge(
                &mut out,
                "vault_rs_expiration_hour_buckets",
                "Hour buckets of the lease index held in memory.",
                active.expiration.bucket_count() as u64,
            );
            gauge(
                &mut out,
                "vault_rs_audit_ok",
                "1 when every audit device is healthy.",
                u64::from(active.audit.healthy()),
            );
            audit_devices(&mut out, &active.audit.metrics());
        }
        out
    }

    /// The same facts as JSON.
    pub fn json(&self, core: &Core) -> Value {
        let by_class: serde_json::Map<String, Value> = CLASSES
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    c.to_string(),
                    json!(self.by_class[i].load(Ordering::Relaxed)),
                )
            })
            .collect();
        let audit = core
            .active()
            .map(|a| json!(a.audit.metrics()))
            .unwrap_or(Value::Null);
        json!({
            "requests": by_class,
            "request_duration_seconds_sum": self.duration_micros.load(Ordering::Relaxed) as f64 / 1e6,
            "sealed": core.is_sealed(),
            "audit_devices": audit,
        })
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {value}");
}

/// A per-device series: name, help, and how to read it.
type DeviceSeries = (
    &'static str,
    &'static str,
    fn(&crate::audit::DeviceMetrics) -> u64,
);

fn audit_devices(out: &mut String, devices: &[crate::audit::DeviceMetrics]) {
    let series: [DeviceSeries; 4] = [
        (
            "vault_rs_audit_lines_written_total",
            "Lines written per audit device.",
            |d| d.lines_written,
        ),
        (
            "vault_rs_audit_write_failures_total",
            "Failed writes per audit device.",
            |d| d.write_failures,
        ),
        (
            "vault_rs_audit_timeouts_total",
            "Requests that timed out waiting for a device.",
            |d| d.timeouts,
        ),
        (
            "vault_rs_audit_dropped_total",
            "Entries dropped (queue full or writer gone).",
            |d| d.dropped,
        ),
    ];
    for (name, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for d in devices {
            let _ = writeln!(
                out,
                "{name}{{device=\"{}\",type=\"{}\"}} {}",
                escape(&d.path),
                escape(&d.kind),
                get(d)
            );
        }
    }
}

/// Escapes a Prometheus label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observe_counts_by_class() {
        let m = Metrics::default();
        m.observe(200, Duration::from_millis(2));
        m.observe(204, Duration::from_millis(2));
        m.observe(403, Duration::from_millis(2));
        m.observe(999, Duration::ZERO);
        assert_eq!(m.by_class[1].load(Ordering::Relaxed), 2);
        assert_eq!(m.by_class[3].load(Ordering::Relaxed), 1);
        assert_eq!(m.by_class[4].load(Ordering::Relaxed), 1);
        assert_eq!(m.total(), 4);
        assert_eq!(escape("a\"b"), "a\\\"b");
    }
}
