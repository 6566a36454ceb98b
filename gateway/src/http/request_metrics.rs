//! Counting HTTP answers by route template and status, with their latency.
//!
//! The route a request matched is known only inside the router, while the answer
//! that counts may come from outside it (a timeout's 408, a fallback's 404). So
//! the outer middleware, [`record`], leaves an empty slot in the request; the
//! per-route one, [`note_route`], fills it with the matched template; the outer
//! one reads it when the answer passes back, whoever made the answer.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::RequestLabels;
use crate::vitals::Vitals;

/// The label of a request that matched no route.
const UNMATCHED: &str = "unmatched";

/// Where the matched route template is left for [`record`].
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<MatchedPath>>);

/// Outermost: times the request and counts its answer.
pub async fn record(State(vitals): State<Vitals>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let slot = RouteSlot::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    let route = slot
        .0
        .get()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    vitals.metrics.http.answered(labels, started.elapsed());
    response
}

/// On every route: leaves the matched template in [`record`]'s slot.
pub async fn note_route(request: Request, next: Next) -> Response {
    if let (Some(slot), Some(matched)) = (
        request.extensions().get::<RouteSlot>(),
        request.extensions().get::<MatchedPath>(),
    ) {
        // A route nested in another is noted once, by the outer router first.
        let _ = slot.0.set(matched.clone());
    }
    next.run(request).await
}

/// The method as a label: the standard ones by name, any other as `other`, so
/// a client cannot add label values at will.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_standard_methods_are_labelled_by_name() {
        assert_eq!(method_label(&Method::POST), "POST");
        let odd = Method::from_bytes(b"BREW").unwrap_or_default();
        assert_eq!(method_label(&odd), "other");
    }
}
