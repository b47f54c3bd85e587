//! The HTTP service (`otaplan serve`): the only module that knows HTTP. It stores what
//! it is given under the data directory, validates through `ingest` exactly as the CLI
//! does, and runs solves off the async runtime behind a concurrency limit. It computes
//! nothing itself.
//!
//! `config` (settings), `routes` (router and handlers), `middleware` (timing, limits,
//! auth), `jobs` (admission, queue, lifecycle), `store` (plans on disk), `tables`
//! (pages of written tables), `callback` (signed push), `body` (JSON scenarios as
//! folders), `openapi`, `metrics`, `error`.

pub mod body;
pub mod callback;
pub mod config;
pub mod error;
pub mod export;
pub mod jobs;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod store;
pub mod tables;
pub mod work;

pub use config::{ServeError, ServerConfig, resolve_bind};
pub use jobs::AppState;
pub use openapi::ApiDoc;
pub use routes::{health_router, router};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Running solves are waited for this long after the listener closes.
const SOLVE_GRACE: Duration = Duration::from_secs(300);

/// Listens on `bind` (an address or `host:port`) until ctrl-c or SIGTERM, then drains.
pub async fn serve(cfg: ServerConfig, bind: &str) -> Result<(), ServeError> {
    let addrs = resolve_bind(bind).await?;
    if cfg.token.is_none()
        && let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback())
    {
        return Err(ServeError::NoToken(*a));
    }
    let listener = tokio::net::TcpListener::bind(addrs[0])
        .await
        .map_err(|e| ServeError::Bind(addrs[0], e))?;
    let health = match &cfg.health_bind {
        Some(b) => {
            let a = resolve_bind(b).await?[0];
            Some(std::net::TcpListener::bind(a).map_err(|e| ServeError::Bind(a, e))?)
        }
        None => None,
    };
    let state = AppState::open(cfg)?;
    eprintln!(
        "otaplan serve: listening on http://{}",
        listener.local_addr().map_err(ServeError::Io)?
    );
    let health = match health {
        Some(l) => {
            let addr = l.local_addr().map_err(ServeError::Io)?;
            eprintln!("otaplan serve: health probes also on http://{addr}");
            Some(serve_health(l, state.clone()).map_err(ServeError::Io)?)
        }
        None => None,
    };
    let st = state.clone();
    let stop = async move {
        shutdown_signal().await;
        eprintln!("otaplan serve: shutting down (readyz now 503)");
        st.begin_shutdown();
        tokio::time::sleep(st.cfg.drain_delay).await;
    };
    serve_on(listener, state.clone(), stop).await;
    eprintln!("otaplan serve: waiting for running solves");
    state.drain(SOLVE_GRACE).await;
    drop(health);
    Ok(())
}

/// The health listener's thread; dropping it closes the listener.
pub struct HealthThread {
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Serves `/healthz` and `/readyz` on `listener` from a thread of its own with its own
/// runtime, so the probes never queue behind other requests' work on the main runtime.
pub fn serve_health(
    listener: std::net::TcpListener,
    state: Arc<AppState>,
) -> std::io::Result<HealthThread> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("otaplan-health".into())
        .spawn(move || {
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => {
                        let timeout = state.cfg.header_timeout;
                        let stop = async move {
                            let _ = stopped.await;
                        };
                        accept_loop(l, health_router(state), timeout, stop).await;
                    }
                    Err(e) => eprintln!("otaplan serve: health listener failed: {e}"),
                }
            });
        })?;
    Ok(HealthThread { _stop: stop })
}

/// Serves the API on `listener` until `stop` completes, then lets open requests finish.
/// Retention runs every ten minutes.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: impl Future<Output = ()>,
) {
    let sweeper = {
        let st = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            loop {
                tick.tick().await;
                let st = st.clone();
                let _ = tokio::task::spawn_blocking(move || st.sweep()).await;
            }
        })
    };
    accept_loop(
        listener,
        router(state.clone()),
        state.cfg.header_timeout,
        stop,
    )
    .await;
    sweeper.abort();
}

/// Serves HTTP/1.1 with `app` on `listener` until `stop` completes, then lets open
/// requests finish. Every connection must send a request's headers within
/// `header_timeout` (a client that sends nothing, or trickles, is closed).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    stop: impl Future<Output = ()>,
) {
    let (closing, closed) = tokio::sync::watch::channel(false);
    let open = Arc::new(());
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("otaplan serve: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let svc = TowerToHyperService::new(app.clone());
        let mut closed = closed.clone();
        let token = open.clone();
        tokio::spawn(async move {
            let _token = token;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closed.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    while Arc::strong_count(&open) > 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
