//! What `otaplan serve` was told, resolved from the command line into typed values, and
//! why it may refuse to start. No HTTP and no I/O beyond resolving the bind address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The server's settings (resolved from the command line).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// Folders a request may name with `scenario_dir`; none = such requests are refused.
    pub scenario_root: Option<PathBuf>,
    /// The bearer token; none = no authentication (loopback only).
    pub token: Option<String>,
    /// Solves running at once.
    pub max_solves: usize,
    /// Plans waiting for a solver beyond those running; more is 503.
    pub queue: usize,
    /// Scenarios with at most this many devices are answered synchronously (201).
    pub sync_devices: usize,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// A connection must finish sending a request's headers within this time.
    pub header_timeout: Duration,
    /// After SIGTERM, `/readyz` answers 503 for this long before the listener closes.
    pub drain_delay: Duration,
    /// Solver threads per solve.
    pub threads: u32,
    /// Solver time limit per solve, seconds.
    pub time_limit: Option<f64>,
    /// Finished plans kept at most (newest first); none = all.
    pub keep_plans: Option<usize>,
    /// Finished plans older than this are deleted; none = kept.
    pub keep_days: Option<u64>,
    /// Host names (besides loopback) a `callback_url` may name.
    pub callback_hosts: Vec<String>,
    /// The HMAC-SHA256 key callbacks are signed with; none = callbacks are refused.
    pub callback_secret: Option<Vec<u8>>,
    /// Deliveries of one callback at most, and the wait before the first retry (doubled
    /// after each failure).
    pub callback_attempts: u32,
    pub callback_backoff: Duration,
    /// Threads of the pool that does requests' CPU work (parsing, hashing, serialising,
    /// indexing tables), so the async threads stay free for every other request.
    pub work_threads: usize,
    /// The nice value those threads give themselves (0 = as the rest; higher yields the
    /// CPU to the async threads and the health probes they answer).
    pub work_nice: i8,
    /// A second address answering only `/healthz` and `/readyz`, from a thread of its
    /// own (none = the probes are only on the main address).
    pub health_bind: Option<String>,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            data_dir,
            scenario_root: None,
            token: None,
            max_solves: 2,
            queue: 8,
            sync_devices: 2000,
            max_body_bytes: 64 << 20,
            request_timeout: Duration::from_secs(120),
            header_timeout: Duration::from_secs(10),
            drain_delay: Duration::ZERO,
            threads: 1,
            time_limit: None,
            keep_plans: None,
            keep_days: None,
            callback_hosts: Vec::new(),
            callback_secret: None,
            callback_attempts: 5,
            callback_backoff: Duration::from_secs(1),
            work_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            work_nice: 10,
            health_bind: None,
        }
    }

    /// Plans admitted at most (running + queued).
    pub fn admitted_limit(&self) -> usize {
        self.max_solves.max(1) + self.queue
    }
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} (not loopback) without a token: pass --token-file or set OTAPLAN_TOKEN"
    )]
    NoToken(SocketAddr),
    #[error("cannot resolve --bind {0}: {1}")]
    Resolve(String, String),
    #[error("cannot open the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("the server failed: {0}")]
    Io(std::io::Error),
}

/// Resolves `--bind` (`127.0.0.1:8080`, `[::1]:8080` or `localhost:8080`) to its
/// addresses; a host name must resolve to at least one.
pub async fn resolve_bind(bind: &str) -> Result<Vec<SocketAddr>, ServeError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(bind)
        .await
        .map_err(|e| ServeError::Resolve(bind.to_string(), e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(ServeError::Resolve(
            bind.to_string(),
            "no address".to_string(),
        ));
    }
    Ok(addrs)
}
