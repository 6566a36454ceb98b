//! NDJSON answers (`application/x-ndjson`): one JSON object a line, streamed as it
//! is read, for exports too large to hold in memory.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use serde::Serialize;

/// `value` as one line.
pub fn line(value: &impl Serialize) -> String {
    // Serialising our own plain types cannot fail; an empty line would be visible.
    let mut line = serde_json::to_string(value).unwrap_or_default();
    line.push('\n');
    line
}

/// Streams `chunks` (lines, a read at a time). A read that fails part-way ends
/// the body with an error, logged once naming `what`, so the client sees a cut
/// answer rather than a short one that looks whole.
pub fn response<E: std::fmt::Display>(
    chunks: impl Stream<Item = Result<String, E>> + Send + 'static,
    what: &'static str,
) -> Response {
    let body = chunks.map(move |chunk| match chunk {
        Ok(text) => Ok(Bytes::from(text)),
        Err(error) => {
            tracing::error!(%error, "{what} failed part-way");
            Err(std::io::Error::other(format!("{what} failed")))
        }
    });
    let mut response = Body::from_stream(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}
