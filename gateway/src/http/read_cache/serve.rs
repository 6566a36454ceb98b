//! A page request through the cache: answered from memory when a kept page
//! holds, otherwise read by the route, answered, and kept.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use ledger_projections::queries::page_version::PageVersion;
use serde::Serialize;
use uuid::Uuid;

use super::PageKey;
use crate::http::app::AppState;
use crate::http::conditional::{asked, Validator};
use crate::http::error::ApiError;
use crate::http::extract::QueryParams;

/// What a route read from the database: a page at its version, or a 304 its
/// revalidation already answered.
pub enum Read<P> {
    /// The page and its version.
    Page(PageVersion, P),
    /// The client's copy is current (answered without reading the page).
    NotModified(Response),
}

/// Which page, and how it is asked for.
pub struct Asked<'a> {
    /// `lp` the landing page, `ls` a list of licenses (see [`Validator::new`]).
    pub kind: &'static str,
    /// The page's account.
    pub account: Uuid,
    /// The instant asked for.
    pub as_of: DateTime<Utc>,
    /// The request's address.
    pub uri: &'a Uri,
    /// The request's headers.
    pub headers: &'a HeaderMap,
    /// The request's query.
    pub params: &'a QueryParams,
}

/// Answers the page `asked` names: from `state`'s cache when a kept page holds,
/// otherwise from `read`, keeping what it read. With `min_position` the cache is
/// left out, answering and keeping alike: read-your-writes waits on the
/// projector's checkpoint, which a notice in flight may not yet have told the
/// cache of.
///
/// `read` is told whether the page will be kept: then it must read the page
/// whole even for a revalidation (`If-None-Match`), which is answered 304 from
/// what it read. Otherwise a client that only ever revalidates would never
/// refill a page once its age ran out, and every later request would read the
/// database (measured: revalidations fell to 0.3 of the static endpoint while
/// full pages ran at 0.7).
pub async fn cached_page<P, R>(
    state: &AppState,
    asked_for: Asked<'_>,
    read: impl FnOnce(bool) -> R,
) -> Result<Response, ApiError>
where
    P: Serialize,
    R: Future<Output = Result<Read<P>, ApiError>>,
{
    let cache = &state.read_cache;
    let cacheable = asked_for
        .params
        .get("min_position", |_| Ok::<_, String>(()))?
        .is_none();
    let key = PageKey {
        account: asked_for.account,
        asked: asked(asked_for.uri),
    };
    if cacheable {
        if let Some(hit) = cache.lookup(&key, asked_for.as_of, asked_for.headers) {
            return answer(&asked_for, &hit.version, hit.body);
        }
    }
    let ticket = if cacheable { cache.ticket() } else { None };
    let (version, page) = match read(ticket.is_some()).await? {
        Read::Page(version, page) => (version, page),
        Read::NotModified(response) => return Ok(response),
    };
    let body = Bytes::from(serde_json::to_vec(&page).map_err(anyhow::Error::from)?);
    if let Some(ticket) = ticket {
        cache.keep(ticket, key, version, asked_for.as_of, &body);
    }
    answer(&asked_for, &version, body)
}

/// `body`, the page at `version`, tagged; or a 304 if the request holds it.
fn answer(asked_for: &Asked<'_>, version: &PageVersion, body: Bytes) -> Result<Response, ApiError> {
    let validator = Validator::new(asked_for.kind, asked_for.uri, version)?;
    if validator.fresh(asked_for.headers) {
        return Ok(validator.not_modified());
    }
    Ok(validator.tagged(json(body)))
}

/// A JSON answer of `body`, as `axum::Json` would make it.
fn json(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
