//! `GET /docs`: a small self-contained HTML page (no external assets, works with no network)
//! that reads `/openapi.json` and lists every route with its description.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The page, compiled into the binary.
pub const PAGE: &str = include_str!("page.html");

/// Serves [`PAGE`].
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Only our own inline script and style, and fetches to ourselves.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
            ),
        ],
        PAGE,
    )
        .into_response()
}
