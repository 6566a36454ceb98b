//! Requests in flight: counted from arrival until their answer's body has been
//! sent (or dropped), so that a process stopping past its grace period can say
//! how many it cut off.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// How many requests this process is handling.
#[derive(Debug, Default)]
pub struct InFlight(AtomicUsize);

impl InFlight {
    /// Requests that arrived and whose answer is not yet sent.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Middleware counting each request until its body is done: a streamed answer
/// (an export) is in flight until its last byte.
pub async fn track(
    State(in_flight): State<Arc<InFlight>>,
    request: Request,
    next: Next,
) -> Response {
    in_flight.0.fetch_add(1, Ordering::Relaxed);
    let counted = Counted { in_flight };
    next.run(request).await.map(|body| {
        Body::new(CountedBody {
            body,
            _counted: counted,
        })
    })
}

/// One request, counted until dropped.
struct Counted {
    in_flight: Arc<InFlight>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.in_flight.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An answer's body that keeps its request counted; otherwise the body itself
/// (its size included, so a `Content-Length` is still sent).
struct CountedBody {
    body: Body,
    _counted: Counted,
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
