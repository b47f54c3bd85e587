//! What every request passes through: `observe` (times it, bounds it by the request
//! timeout, counts it under closed label sets) and `auth` (bounded URIs; the bearer
//! token on every route but the health probes).

use super::error::ApiError;
use super::jobs::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Longest URI served (longer is `414 uri_too_long`).
const MAX_URI: usize = 8192;

/// Times every request, counts it by method, route and status, and bounds it by the
/// timeout.
pub async fn observe(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().as_str().to_string();
    let t0 = std::time::Instant::now();
    let resp = match tokio::time::timeout(st.cfg.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request took longer than the server's request timeout",
        )
        .into_response(),
    };
    st.metrics.request(
        &method,
        &route,
        resp.status().as_u16(),
        t0.elapsed().as_secs_f64(),
    );
    resp
}

/// Bounded URIs, then the bearer token (scheme in any case, token trimmed) on every
/// route but the health probes.
pub async fn auth(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if req.uri().to_string().len() > MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the URI is longer than {MAX_URI} bytes"),
        )
        .into_response();
    }
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    if let Some(token) = &st.cfg.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, t)| t.trim());
        if !same(given.as_bytes(), token.as_bytes()) {
            let mut resp = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required",
            )
            .into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return resp;
        }
    }
    next.run(req).await
}

/// Compares without an early exit on the first differing byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
