//! The pool that does requests' CPU work: parsing and hashing bodies, reading and
//! serialising a plan's status and summary, indexing a plan's tables. The async threads
//! only move bytes and route, so every other request — the health probes first — is
//! answered while this work queues. The pool's threads lower their own priority (nice),
//! so the OS also prefers the async threads when the cores are busy.
//!
//! One rule for what runs where: CPU work of a request here; blocking file I/O (copying
//! a scenario, listing plans) on tokio's blocking threads; solves on their own blocking
//! threads behind the solver semaphore (`jobs`).

use super::error::ApiError;
use tokio::sync::{Semaphore, oneshot};

/// A bounded pool of low-priority threads.
#[derive(Debug)]
pub struct WorkPool {
    pool: rayon::ThreadPool,
    /// Jobs handed to the pool at once (one per thread; the rest wait as futures).
    running: Semaphore,
}

impl WorkPool {
    /// `threads` threads, each setting its nice value to `nice` (0 = left as is).
    pub fn new(threads: usize, nice: i8) -> std::io::Result<WorkPool> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("otaplan-work-{i}"))
            .start_handler(move |_| lower_priority(nice))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(WorkPool {
            pool,
            running: Semaphore::new(threads),
        })
    }

    /// Runs `f` on the pool once a thread is free and returns its answer.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _permit = self
            .running
            .acquire()
            .await
            .map_err(|e| ApiError::internal("the work pool", e))?;
        let (tx, rx) = oneshot::channel();
        self.pool.spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ApiError::internal("the work pool", "a job panicked")),
            Err(e) => Err(ApiError::internal("the work pool", e)),
        }
    }
}

/// Sets the calling thread's nice value (Linux keeps one per thread). The library takes
/// a priority 0–99 that it maps onto nice values; the one mapping to `nice` is used. A
/// refusal leaves the thread as it was: slower probes under load, nothing wrong.
fn lower_priority(nice: i8) {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    if nice == 0 {
        return;
    }
    let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
    let priority = (0..=99u8)
        .filter_map(|p| ThreadPriorityValue::try_from(p).ok())
        .map(ThreadPriority::Crossplatform)
        .find(|p| p.to_posix(policy).ok() == Some(i32::from(nice)));
    let done = priority.map(|p| set_thread_priority_and_policy(thread_native_id(), p, policy));
    if !matches!(done, Some(Ok(()))) {
        eprintln!("otaplan serve: cannot set the work threads' nice value to {nice}: {done:?}");
    }
}

/// The calling thread's nice value, from `/proc/thread-self/stat` (field 19); none
/// where there is no such file.
pub fn current_nice() -> Option<i32> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(16)?.parse().ok()
}
