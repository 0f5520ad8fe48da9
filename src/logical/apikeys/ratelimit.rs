//! Per-client token buckets for `validate`, so that a leaked validator
//! token cannot be used to guess keys at line rate.
//!
//! A client is the calling token (its accessor), else its remote address.
//! Buckets live in 16 mutex-protected shards to keep the hot path
//! uncontended. A bucket that has refilled to its burst is equivalent to a
//! fresh one, so such buckets are dropped when a shard grows large: memory
//! stays bounded without ever forgetting a client that is being limited.
//!
//! Owns: bucket arithmetic and the shard maps. Must not touch storage.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Instant;

const SHARDS: usize = 16;
/// Above this many buckets a shard drops its full (idle) buckets.
const SHARD_SOFT_CAP: usize = 4096;

/// A limit: `rate` requests per second on average, bursts up to `burst`.
/// A rate of 0 disables limiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub rate: u64,
    pub burst: u64,
}

impl Limit {
    fn capacity(&self) -> f64 {
        self.burst.max(1) as f64
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// The bucket's level at `now`, refilled at `limit.rate`.
    fn refilled(&self, limit: Limit, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        (self.tokens + elapsed * limit.rate as f64).min(limit.capacity())
    }
}

/// One shard: its buckets, and the size at which it is pruned next (it
/// doubles when pruning frees little, so pruning stays amortised O(1)).
struct Shard {
    buckets: HashMap<String, Bucket>,
    prune_at: usize,
}

/// The buckets of one mount.
pub struct RateLimiter {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        prune_at: SHARD_SOFT_CAP,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
        }
    }
}

impl RateLimiter {
    /// Takes one token for `client`; `false` when the client is over its limit.
    pub fn allow(&self, client: &str, limit: Limit, now: Instant) -> bool {
        if limit.rate == 0 {
            return true;
        }
        let shard = (self.hasher.hash_one(client) as usize) % self.shards.len();
        let mut guard = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        let Shard {
            buckets: map,
            prune_at,
        } = &mut *guard;
        if !map.contains_key(client) && map.len() >= *prune_at {
            map.retain(|_, b| b.refilled(limit, now) < limit.capacity());
            *prune_at = SHARD_SOFT_CAP.max(map.len() * 2);
        }
        if !map.contains_key(client) {
            let fresh = Bucket {
                tokens: limit.capacity(),
                last: now,
            };
            map.insert(client.to_string(), fresh);
        }
        let Some(bucket) = map.get_mut(client) else {
            return false;
        };
        let level = bucket.refilled(limit, now);
        bucket.last = now;
        if level >= 1.0 {
            bucket.tokens = level - 1.0;
            true
        } else {
            bucket.tokens = level;
            false
        }
    }

    /// How many clients currently have a bucket.
    pub fn clients(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).buckets.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let rl = RateLimiter::default();
        let limit = Limit { rate: 2, burst: 3 };
        let t0 = Instant::now();
        assert!(rl.allow("a", limit, t0));
        assert!(rl.allow("a", limit, t0));
        assert!(rl.allow("a", limit, t0));
        assert!(!rl.allow("a", limit, t0));
        // Another client has its own bucket.
        assert!(rl.allow("b", limit, t0));
        // Half a second refills one token at 2/s.
        assert!(rl.allow("a", limit, t0 + Duration::from_millis(500)));
        assert!(!rl.allow("a", limit, t0 + Duration::from_millis(500)));
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let rl = RateLimiter::default();
        let limit = Limit { rate: 0, burst: 0 };
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| rl.allow("a", limit, t0)));
        assert_eq!(rl.clients(), 0);
    }

    #[test]
    fn full_buckets_are_dropped_when_a_shard_is_large() {
        let rl = RateLimiter::default();
        let limit = Limit { rate: 1, burst: 1 };
        let t0 = Instant::now();
        for i in 0..(SHARD_SOFT_CAP * SHARDS * 2) {
            rl.allow(&format!("c{i}"), limit, t0);
        }
        let later = t0 + Duration::from_secs(5);
        for i in 0..(SHARDS * 64) {
            rl.allow(&format!("d{i}"), limit, later);
        }
        assert!(rl.clients() < SHARD_SOFT_CAP * SHARDS * 2);
        // A client being limited keeps its (empty) bucket.
        assert!(rl.allow("x", limit, later));
        assert!(!rl.allow("x", limit, later));
    }
}
