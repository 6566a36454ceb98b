//! The web console at `/console`: static HTML, CSS and ES modules from
//! `gateway/console/`, compiled into the binary, so serving it needs no Node, no
//! build step and no files beside the binary.
//!
//! The console is a client of the JSON API like any other: it holds the bearer
//! token a person pasted and sends it with every call, so it sees exactly what
//! that token may see. Its files hold no data, so they are served without a token,
//! outside the gate and outside the OpenAPI document (they are not the API: a
//! client generator has nothing to do with them). `gateway/tests/openapi.rs`
//! lets this one module register routes with axum directly, for that reason.
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles and
//! connections only from this origin, no inline script or style, no framing. The
//! console's code sets text with `textContent` only; the tests below hold it to
//! that. Files are revalidated on every use (`no-cache`) against a strong `ETag`
//! of their bytes, so a new binary's console is picked up at once.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest as _, Sha256};

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::if_none_match_hits;

/// Where the console is served.
pub const MOUNT: &str = "/console";

/// The policy every console answer carries. `form-action 'none'`: forms are
/// handled by script and never submitted by the browser (a token in a URL would
/// end up in logs).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    /// Its path under `/console/` (`index.html` is also `/console` itself).
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The embedded files; a test checks this list against `gateway/console/`.
macro_rules! assets {
    ($($path:literal: $kind:expr),+ $(,)?) => {
        const ASSETS: &[Asset] = &[$(Asset {
            path: $path,
            content_type: $kind,
            body: include_bytes!(concat!("../../console/", $path)),
        }),+];
    };
}

assets! {
    "index.html": HTML,
    "console.css": CSS,
    "favicon.svg": SVG,
    "js/app.js": JS,
    "js/api.js": JS,
    "js/dom.js": JS,
    "js/format.js": JS,
    "js/session.js": JS,
    "js/forms.js": JS,
    "js/chart.js": JS,
    "js/views/signin.js": JS,
    "js/views/landing.js": JS,
    "js/views/licenses.js": JS,
    "js/views/search_form.js": JS,
    "js/views/bulk.js": JS,
    "js/views/license.js": JS,
    "js/views/license_actions.js": JS,
    "js/views/history.js": JS,
    "js/views/assets.js": JS,
    "js/views/usage.js": JS,
    "js/views/integrity.js": JS,
}

/// Each asset's strong `ETag`, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| format!("\"{:x}\"", Sha256::digest(asset.body)))
        .collect()
});

/// The console's routes: the page, its files, and `/console/` sent to the page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(MOUNT, get(page))
        .route("/console/", get(|| async { Redirect::permanent(MOUNT) }))
        .route("/console/{*path}", get(file))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .route_layer(axum::middleware::from_fn(
            crate::http::request_metrics::note_route,
        ))
}

async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().strip_prefix("/console/").unwrap_or_default();
    serve(path, &headers)
}

/// The asset at `path` (an exact name from the table, so nothing outside it can
/// be reached), or a 404.
fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|asset| asset.path == path) else {
        return ApiError::NotFound("no such console file".into()).into_response();
    };
    let asset = &ASSETS[index];
    let etag = &ETAGS[index];
    let mut response = if if_none_match_hits(request, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
    for (name, value) in [
        (header::CACHE_CONTROL, "no-cache"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn console_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
    }

    fn files_under(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.map(|e| e.path()).unwrap_or_default();
            if path.is_dir() {
                files_under(&path, found);
            } else if let Ok(relative) = path.strip_prefix(console_dir()) {
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }

    #[test]
    fn every_file_of_the_console_directory_is_embedded_and_nothing_else() {
        let mut on_disk = Vec::new();
        files_under(&console_dir(), &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "list each file of gateway/console/ in `assets!` (and only those)"
        );
    }

    #[test]
    fn each_file_has_the_content_type_of_its_extension() {
        for asset in ASSETS {
            let expected = match asset.path.rsplit('.').next() {
                Some("html") => HTML,
                Some("css") => CSS,
                Some("js") => JS,
                Some("svg") => SVG,
                other => panic!("{}: no content type for {other:?}", asset.path),
            };
            assert_eq!(asset.content_type, expected, "{}", asset.path);
        }
    }

    /// What would run markup or code from data, or break the policy: the console
    /// sets text with `textContent` and builds elements one by one.
    const FORBIDDEN_IN_SCRIPTS: [&str; 9] = [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setAttribute('style'",
        "setAttribute(\"style\"",
        "javascript:",
    ];

    #[test]
    fn no_script_writes_markup_from_text_or_evaluates_code() {
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let source = std::str::from_utf8(asset.body).unwrap_or_default();
            for pattern in FORBIDDEN_IN_SCRIPTS {
                assert!(
                    !source.contains(pattern),
                    "{}: `{pattern}` is not allowed in the console",
                    asset.path
                );
            }
        }
    }

    #[test]
    fn the_page_has_no_inline_script_style_or_handler() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap_or_default();
        assert_eq!(ASSETS[0].path, "index.html");
        let lower = page.to_lowercase();
        for tag in lower.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap_or_default();
            assert!(open.contains("src="), "an inline <script>: <script{open}>");
        }
        assert!(!lower.contains("<style"), "an inline <style>");
        assert!(!lower.contains(" style="), "an inline style attribute");
        for attribute in [
            " onclick=",
            " onload=",
            " onsubmit=",
            " onerror=",
            " onchange=",
        ] {
            assert!(
                !lower.contains(attribute),
                "an inline handler `{attribute}`"
            );
        }
    }

    #[test]
    fn the_policy_allows_nothing_but_this_origin() {
        for directive in ["default-src", "script-src", "style-src", "connect-src"] {
            let value = CONTENT_SECURITY_POLICY
                .split(';')
                .map(str::trim)
                .find_map(|d| d.strip_prefix(directive))
                .unwrap_or_else(|| panic!("no {directive}"));
            assert_eq!(value.trim(), "'self'", "{directive}");
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }
}
