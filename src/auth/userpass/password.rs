//! Password hashing: Argon2id with the `argon2` crate's default parameters
//! (19 MiB, 2 passes, 1 lane), stored as PHC strings
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
//!
//! Owns: the hashing workers ([`Hashers`]). The unsealed core owns one
//! [`Hashers`] and hands it to every userpass mount's instance, so every
//! Argon2 run of the process happens on one of a fixed number of dedicated
//! threads ([`MAX_WORKERS`] at most, one per core; they stop when the
//! unsealed state and its mounts are dropped), each of which allocates its Argon2 memory once and reuses
//! it for every job, wiping it after each. Callers hand a job to a bounded
//! queue and wait for the answer; a job that cannot start within
//! [`PERMIT_WAIT`] is answered 429. So a login flood costs at most
//! `workers × 19 MiB` of memory, whatever the number of clients.
//!
//! A login for a user that does not exist verifies the password against a
//! fixed dummy hash with the same parameters ([`verify_unknown`]): it runs
//! one full Argon2 computation through the same queue, so it costs what a
//! login for an existing user costs. The dummy is a constant, so nothing
//! about it can fail or be skipped. Comparisons are constant-time.
//!
//! Must not touch: storage, tokens, HTTP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{bounded, Receiver, Sender};
use zeroize::Zeroizing;

use crate::crypto::SecretString;
use crate::logical::LogicalError;

/// How long a login waits for a hashing worker before 429.
const PERMIT_WAIT: Duration = Duration::from_secs(5);
/// At most this many hashing workers (each holds 19 MiB for good).
pub(crate) const MAX_WORKERS: usize = 4;
/// Jobs that may wait for a worker, per worker; beyond, callers wait to
/// enqueue (up to [`PERMIT_WAIT`]) and then get 429.
const QUEUE_PER_WORKER: usize = 16;
/// Salt length of new hashes (the PHC recommendation).
const SALT_LEN: usize = 16;
/// Output length of new hashes.
const OUTPUT_LEN: usize = Params::DEFAULT_OUTPUT_LEN;

/// The dummy hash of [`verify_unknown`]: default parameters, a fixed salt
/// and a fixed output. Nobody knows a password for it, and a match would
/// not log anyone in anyway (there is no user).
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$dmF1bHQtcnMtZHVtbXkhIQ$\
                         sjrFnWl6uPSREBumuQDzVOkUGa3UN2jJRZERJ2hr5w8";

/// Everything needed to recompute one Argon2 output.
struct Target {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
}

/// One unit of work for a hashing worker.
struct Job {
    target: Target,
    password: SecretString,
    /// A job taken after this instant is answered 429 without hashing.
    deadline: Instant,
    reply: Sender<Result<Zeroizing<Vec<u8>>, LogicalError>>,
}

struct Pool {
    jobs: Sender<Job>,
    workers: usize,
}

/// The Argon2 hashing workers (started on first use) and their counter.
/// Dropping the last handle closes the queue; the workers then end.
#[derive(Default)]
pub struct Hashers {
    pool: OnceLock<Option<Pool>>,
    /// Argon2 computations finished by these workers (tests, metrics).
    runs: Arc<AtomicU64>,
}

/// How many hashing workers this machine gets: one per core, at least
/// one, at most [`MAX_WORKERS`].
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, MAX_WORKERS))
}

impl Hashers {
    fn pool(&self) -> Result<&Pool, LogicalError> {
        self.pool
            .get_or_init(|| {
                let workers = worker_count();
                let (tx, rx) = bounded::<Job>(workers * QUEUE_PER_WORKER);
                let mut started = 0;
                for i in 0..workers {
                    let rx = rx.clone();
                    let runs = self.runs.clone();
                    let spawned = std::thread::Builder::new()
                        .name(format!("argon2-{i}"))
                        .spawn(move || worker(rx, &runs));
                    if spawned.is_ok() {
                        started += 1;
                    }
                }
                (started > 0).then_some(Pool {
                    jobs: tx,
                    workers: started,
                })
            })
            .as_ref()
            .ok_or_else(|| LogicalError::Internal("password hashing workers unavailable".into()))
    }

    /// The number of hashing workers (starting them if needed).
    pub fn workers(&self) -> usize {
        self.pool().map_or(0, |p| p.workers)
    }

    /// Argon2 computations finished by these workers.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

/// A worker: one memory block for its whole life, one job at a time.
fn worker(rx: Receiver<Job>, runs: &AtomicU64) {
    let mut memory = vec![Block::new(); Params::DEFAULT.block_count()];
    while let Ok(job) = rx.recv() {
        let answer = if Instant::now() > job.deadline {
            Err(LogicalError::RateLimited)
        } else {
            let out = run(&job.target, &job.password, &mut memory);
            if out.is_ok() {
                runs.fetch_add(1, Ordering::Relaxed);
            }
            memory.iter_mut().for_each(|b| *b = Block::new());
            out
        };
        // The caller may have gone away; nothing to do then.
        let _ = job.reply.send(answer);
    }
}

/// One Argon2 computation in the worker's memory.
fn run(
    t: &Target,
    password: &SecretString,
    memory: &mut [Block],
) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
    let need = t.params.block_count();
    let blocks = memory
        .get_mut(..need)
        .ok_or_else(|| LogicalError::Internal("password hash parameters too large".into()))?;
    let mut out = Zeroizing::new(vec![0u8; t.params.output_len().unwrap_or(OUTPUT_LEN)]);
    Argon2::new(t.algorithm, t.version, t.params.clone())
        .hash_password_into_with_memory(password.expose().as_bytes(), &t.salt, &mut out, blocks)
        .map_err(|_| LogicalError::Internal("password hashing failed".into()))?;
    Ok(out)
}

/// Runs `target` on a worker and waits for its output: 429 when no worker
/// could start it within [`PERMIT_WAIT`].
fn compute(
    hashers: &Hashers,
    target: Target,
    password: &SecretString,
) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
    let pool = hashers.pool()?;
    let deadline = Instant::now() + PERMIT_WAIT;
    let (reply, answer) = bounded(1);
    let job = Job {
        target,
        password: password.clone(),
        deadline,
        reply,
    };
    if pool.jobs.send_deadline(job, deadline).is_err() {
        return Err(LogicalError::RateLimited);
    }
    answer
        .recv()
        .map_err(|_| LogicalError::Internal("password hashing worker stopped".into()))?
}

/// The target a PHC string describes and the output it expects; `None`
/// for a string that is not an Argon2 hash this module can check.
fn parse(phc: &str) -> Option<(Target, Output)> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    if params.block_count() > Params::DEFAULT.block_count() {
        return None;
    }
    let salt = parsed.salt?.as_ref().to_vec();
    let expected = parsed.hash?;
    Some((
        Target {
            algorithm,
            version,
            params,
            salt,
        },
        expected,
    ))
}

/// The dummy target and output (the string is a constant, checked by the
/// tests; parsing it costs nothing next to the Argon2 run).
fn dummy() -> Result<(Target, Output), LogicalError> {
    parse(DUMMY_PHC).ok_or_else(|| LogicalError::Internal("password hashing failed".into()))
}

/// The PHC hash of `password` with a fresh random salt.
pub(super) fn hash(hashers: &Hashers, password: &SecretString) -> Result<String, LogicalError> {
    let salt_bytes: [u8; SALT_LEN] = crate::crypto::random_array();
    let target = Target {
        algorithm: Algorithm::Argon2id,
        version: Version::V0x13,
        params: Params::DEFAULT,
        salt: salt_bytes.to_vec(),
    };
    let out = compute(hashers, target, password)?;
    fn fail<E>(_: E) -> LogicalError {
        LogicalError::Internal("password hashing failed".into())
    }
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&Params::DEFAULT).try_into().map_err(fail)?,
        salt: Some(Salt::new(&salt_bytes).map_err(fail)?),
        hash: Some(Output::new(&out).map_err(fail)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`; 429 when no worker
/// was free in time. A string that cannot be checked never matches, and
/// still costs one Argon2 run (against the dummy).
pub(super) fn verify(
    hashers: &Hashers,
    password: &SecretString,
    phc: &str,
) -> Result<bool, LogicalError> {
    let Some((target, expected)) = parse(phc) else {
        verify_unknown(hashers, password)?;
        return Ok(false);
    };
    let out = compute(hashers, target, password)?;
    Ok(crate::crypto::ct_eq(&out, expected.as_bytes()))
}

/// The cost of a login for a user that does not exist: one full Argon2
/// run against the dummy hash, through the same queue. Never matches.
pub(super) fn verify_unknown(
    hashers: &Hashers,
    password: &SecretString,
) -> Result<(), LogicalError> {
    let (target, _) = dummy()?;
    compute(hashers, target, password)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let hs = Hashers::default();
        let pw = SecretString::from("correct horse");
        let h = hash(&hs, &pw).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&hs, &pw, &h).unwrap());
        assert!(!verify(&hs, &SecretString::from("wrong"), &h).unwrap());
        assert!(!verify(&hs, &pw, "not a phc string").unwrap());
        assert!(!verify(&hs, &pw, DUMMY_PHC).unwrap());
        // Hashes made by the crate's own hasher still verify.
        use argon2::PasswordHasher;
        let theirs = Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(verify(&hs, &pw, &theirs).unwrap());
        assert!(!verify(&hs, &SecretString::from("nope"), &theirs).unwrap());
    }

    #[test]
    fn the_dummy_has_the_parameters_of_real_hashes() {
        let (t, out) = dummy().unwrap();
        assert_eq!(t.algorithm, Algorithm::Argon2id);
        assert_eq!(t.version, Version::V0x13);
        assert_eq!(t.params.m_cost(), Params::DEFAULT_M_COST);
        assert_eq!(t.params.t_cost(), Params::DEFAULT_T_COST);
        assert_eq!(t.params.p_cost(), Params::DEFAULT_P_COST);
        assert_eq!(t.salt.len(), SALT_LEN);
        assert_eq!(out.len(), OUTPUT_LEN);
    }

    #[test]
    fn unknown_users_and_corrupt_hashes_cost_one_argon2_run() {
        // Each check below runs Argon2 exactly once more (the counter
        // belongs to this test's own workers).
        let hs = Hashers::default();
        let pw = SecretString::from("guess");
        verify_unknown(&hs, &pw).unwrap();
        assert_eq!(hs.runs(), 1);
        assert!(!verify(&hs, &pw, "").unwrap());
        assert_eq!(hs.runs(), 2);
    }

    #[test]
    fn a_saturated_queue_answers_429_and_recovers() {
        // Flood the queue from many threads: some callers may get 429,
        // none hangs, and afterwards an unknown-user check still runs
        // Argon2 (the failure is never remembered).
        let hs = Arc::new(Hashers::default());
        let pw = SecretString::from("flood");
        let n = hs.workers() * QUEUE_PER_WORKER * 2;
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let pw = pw.clone();
                let hs = hs.clone();
                std::thread::spawn(move || verify_unknown(&hs, &pw))
            })
            .collect();
        for h in handles {
            match h.join().unwrap() {
                Ok(()) | Err(LogicalError::RateLimited) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let before = hs.runs();
        verify_unknown(&hs, &pw).unwrap();
        assert_eq!(hs.runs(), before + 1);
    }

    #[test]
    fn workers_are_bounded() {
        let n = Hashers::default().workers();
        assert!((1..=MAX_WORKERS).contains(&n));
    }
}
