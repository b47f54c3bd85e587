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

pub use config::{ServeError, ServerConfig, resolve_bind};
pub use jobs::AppState;
pub use openapi::ApiDoc;
pub use routes::router;

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
    let state = AppState::open(cfg)?;
    eprintln!(
        "otaplan serve: listening on http://{}",
        listener.local_addr().map_err(ServeError::Io)?
    );
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
    Ok(())
}

/// Serves HTTP/1.1 on `listener` until `stop` completes, then lets open requests finish.
/// Every connection must send a request's headers within the header timeout (a client
/// that sends nothing, or trickles, is closed). Retention runs every ten minutes.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: impl Future<Output = ()>,
) {
    let app = router(state.clone());
    let (closing, closed) = tokio::sync::watch::channel(false);
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
        let header_timeout = state.cfg.header_timeout;
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
    sweeper.abort();
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
