//! Conditional GETs of an account's pages: a weak `ETag` built from the page's
//! version ([`PageVersion`]: the account's applied license events and the next
//! instant time alone changes the page), so that `If-None-Match` with a current
//! tag is answered 304 after one statement instead of the page's queries.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ledger_projections::queries::page_version::PageVersion;
use sha2::{Digest, Sha256};

use crate::http::error::ApiError;
use crate::http::extract::if_none_match_hits;

/// What page `uri` asks for: its path and query, all of the query but `as_of`,
/// which a page's version covers (two instants of equal versions show the same
/// page), and `min_position`, which only says how long to wait.
pub fn asked(uri: &Uri) -> String {
    let mut asked = uri.path().to_owned();
    for pair in uri.query().unwrap_or_default().split('&') {
        let name = pair.split('=').next().unwrap_or_default();
        if name != "as_of" && name != "min_position" {
            asked.push('&');
            asked.push_str(pair);
        }
    }
    asked
}

/// A page's validator.
pub struct Validator {
    tag: HeaderValue,
}

impl Validator {
    /// The validator of the page `uri` asks for, of kind `kind` (`lp` the
    /// landing page, `ls` a list of licenses), at `version`. The tag names what
    /// the request [`asked`] too, so one page's tag never passes for another's.
    /// Weak, because a page's body also names its own `as_of`, which differs
    /// between two answers of the same page.
    pub fn new(kind: &str, uri: &Uri, version: &PageVersion) -> Result<Self, ApiError> {
        let digest = Sha256::digest(asked(uri).as_bytes());
        let tag = format!(
            "W/\"{kind}-{}.{}-{}-{:x}\"",
            version.applied.0,
            version.applied.1,
            version.changes_at.timestamp_micros(),
            u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
        );
        Ok(Self {
            tag: HeaderValue::try_from(tag).map_err(anyhow::Error::from)?,
        })
    }

    /// Whether the request's `If-None-Match` holds this page already.
    pub fn fresh(&self, request: &HeaderMap) -> bool {
        if_none_match_hits(request, self.tag.to_str().unwrap_or_default())
    }

    /// The 304 for a client whose copy is current.
    pub fn not_modified(self) -> Response {
        self.tagged(StatusCode::NOT_MODIFIED.into_response())
    }

    /// `page`'s answer, tagged.
    pub fn tagged(self, mut page: Response) -> Response {
        let headers = page.headers_mut();
        headers.insert(header::ETAG, self.tag);
        // A cache must ask again each time: pages change with time and with events.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        page
    }
}
