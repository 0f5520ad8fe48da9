//! The clock every time-dependent rule of the vault reads.
//!
//! Owns: the [`Clock`] trait, [`SystemClock`] (the wall clock, what a
//! server uses) and [`ManualClock`] (stands still until advanced; tests and
//! `server --dev --dev-manual-clock`). Token and lease TTLs, KV deletion
//! times, API key rotation and grace periods, identity key rotation and
//! token `iat`/`exp`, AppRole secret ID TTLs, wrapping TTLs and audit
//! timestamps all read the core's clock, so advancing a [`ManualClock`]
//! moves every one of them at once.
//! Must not touch: anything but the time; in particular it never sleeps
//! and never wakes anyone (the scheduler asks it for `now`).

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of "now" (UTC).
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, UTC.
    fn now(&self) -> OffsetDateTime;

    /// Whether the clock only moves when told to (a [`ManualClock`]).
    fn is_manual(&self) -> bool {
        false
    }

    /// Moves a manual clock forward by `by`; `false` (and no change) for a
    /// clock that follows the wall clock.
    fn advance(&self, _by: Duration) -> bool {
        false
    }

    /// Seconds since the Unix epoch.
    fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Milliseconds since the Unix epoch.
    fn unix_ms(&self) -> i64 {
        i64::try_from(self.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// Now as RFC 3339 with nanoseconds, UTC (Vault's timestamp format).
    fn rfc3339(&self) -> String {
        super::time::format_rfc3339(self.now())
    }
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until [`Clock::advance`] moves it — except
/// that each reading is one nanosecond after the previous one, as two
/// readings of a running clock would be, so rules that compare with "now"
/// strictly (a KV version deleted at `t` is gone once `t < now`) behave as
/// they do on the wall clock. It never goes backwards.
pub struct ManualClock {
    /// Nanoseconds since the Unix epoch (an `i64` lasts until 2262).
    nanos: AtomicI64,
}

impl ManualClock {
    /// A clock stopped at the current wall-clock time.
    pub fn starting_now() -> ManualClock {
        ManualClock::at(OffsetDateTime::now_utc())
    }

    /// A clock stopped at `t` (clamped to the span an `i64` of
    /// nanoseconds covers).
    pub fn at(t: OffsetDateTime) -> ManualClock {
        let nanos = t
            .unix_timestamp_nanos()
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        ManualClock {
            nanos: AtomicI64::new(nanos as i64),
        }
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.rfc3339())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let nanos = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(1))
            })
            .unwrap_or_else(|n| n);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn is_manual(&self) -> bool {
        true
    }

    fn advance(&self, by: Duration) -> bool {
        let step = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(step))
            });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_stands_still_until_advanced() {
        let start = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let c = ManualClock::at(start);
        assert!(c.is_manual());
        assert_eq!(c.now(), start);
        std::thread::sleep(Duration::from_millis(5));
        // Each reading is a nanosecond after the last, no matter how much
        // real time passed.
        let second = c.now();
        assert_eq!(second - start, time::Duration::nanoseconds(1));
        assert!(c.now() > second);
        assert_eq!(c.unix(), 1_700_000_000);
        assert!(c.advance(Duration::from_millis(1500)));
        assert_eq!(c.unix_ms(), 1_700_000_001_500);
        assert_eq!(c.unix(), 1_700_000_001);
        assert!(c.rfc3339().starts_with("2023-11-14T22:13:21.5000000"));
    }

    #[test]
    fn manual_clock_saturates_instead_of_wrapping() {
        let c = ManualClock::at(OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap());
        c.advance(Duration::MAX);
        c.advance(Duration::MAX);
        assert!(c.now() >= OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap());
        assert!(c.unix() > 9_000_000_000);
    }

    #[test]
    fn system_clock_follows_the_wall_clock_and_refuses_to_advance() {
        let c = SystemClock;
        assert!(!c.is_manual());
        assert!(!c.advance(Duration::from_secs(3600)));
        let wall = OffsetDateTime::now_utc().unix_timestamp();
        assert!((c.unix() - wall).abs() <= 1);
    }
}
