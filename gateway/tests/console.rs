//! The web console's files as the gateway serves them: the page and its modules
//! without a token (while the API they call still needs one), with their content
//! types, a strict Content-Security-Policy, strong ETags honoured by
//! `If-None-Match`, and nothing of them in the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use ledger_gateway::http::console::CONTENT_SECURITY_POLICY;
use support::{spawn_app, TestApp};
use tower::ServiceExt as _;
use uuid::Uuid;

/// Status, headers and body of `method uri` sent exactly as given (no token).
async fn fetch(
    app: &TestApp,
    method: Method,
    uri: &str,
    extra: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in extra {
        request = request.header(name, *value);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn header_of<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_console_page_and_its_modules_load_without_a_token_under_a_strict_policy() {
    let app = spawn_app().await;
    let (status, headers, page) = fetch(&app, Method::GET, "/console", &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        header_of(&headers, &header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(page.contains("<script type=\"module\" src=\"/console/js/app.js\"></script>"));
    let mut modules = vec!["/console/js/app.js".to_owned()];
    let mut seen = std::collections::BTreeSet::new();
    // Every module the page reaches through its imports is served, as JavaScript.
    while let Some(path) = modules.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let (status, headers, source) = fetch(&app, Method::GET, &path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            header_of(&headers, &header::CONTENT_TYPE),
            "text/javascript; charset=utf-8",
            "{path}"
        );
        let dir = &path[..path.rfind('/').unwrap()];
        for line in source.lines().filter(|l| l.starts_with("import ")) {
            let target = line.split(['\'', '"']).nth(1).unwrap();
            let resolved = resolve(dir, target);
            modules.push(resolved);
        }
    }
    assert!(seen.len() >= 10, "{seen:?}");
    for path in ["/console", "/console/console.css", "/console/js/app.js"] {
        let (_, headers, _) = fetch(&app, Method::GET, path, &[]).await;
        assert_eq!(
            header_of(&headers, &header::CONTENT_SECURITY_POLICY),
            CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(
            header_of(&headers, &header::X_CONTENT_TYPE_OPTIONS),
            "nosniff"
        );
        assert_eq!(header_of(&headers, &header::CACHE_CONTROL), "no-cache");
    }
    let (status, headers, _) = fetch(&app, Method::GET, "/console/console.css", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header_of(&headers, &header::CONTENT_TYPE),
        "text/css; charset=utf-8"
    );
    // The data the console shows still needs a token.
    let landing = format!("/v1/accounts/{}/landing-page", Uuid::now_v7());
    let (status, _, _) = fetch(&app, Method::GET, &landing, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.cleanup().await;
}

/// `./views/x.js` from `/console/js` is `/console/js/views/x.js`; `../api.js` from
/// `/console/js/views` is `/console/js/api.js`.
fn resolve(dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').collect();
    for segment in target.split('/') {
        match segment {
            "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    parts.join("/")
}

#[tokio::test]
async fn a_console_file_is_revalidated_by_its_strong_etag() {
    let app = spawn_app().await;
    let (status, headers, body) = fetch(&app, Method::GET, "/console/js/api.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let etag = header_of(&headers, &header::ETAG).to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 66,
        "a strong SHA-256 ETag: {etag}"
    );
    let (status, headers, empty) = fetch(
        &app,
        Method::GET,
        "/console/js/api.js",
        &[(header::IF_NONE_MATCH, &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(empty.is_empty());
    assert_eq!(header_of(&headers, &header::ETAG), etag);
    let (status, _, again) = fetch(
        &app,
        Method::GET,
        "/console/js/api.js",
        &[(header::IF_NONE_MATCH, "\"an-older-one\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, body);
    let (_, other, _) = fetch(&app, Method::GET, "/console/js/dom.js", &[]).await;
    assert_ne!(header_of(&other, &header::ETAG), etag);
    app.cleanup().await;
}

#[tokio::test]
async fn unknown_console_paths_are_404_and_other_methods_405() {
    let app = spawn_app().await;
    for path in [
        "/console/nope.js",
        "/console/js/../../openapi.json",
        "/console/js/%2e%2e/index.html",
        "/console/js",
    ] {
        let (status, headers, _) = fetch(&app, Method::GET, path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            header_of(&headers, &header::CONTENT_TYPE),
            "application/problem+json"
        );
    }
    let (status, headers, _) = fetch(&app, Method::GET, "/console/", &[]).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header_of(&headers, &header::LOCATION), "/console");
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let (status, _, _) = fetch(&app, method.clone(), "/console", &[]).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn the_console_is_not_part_of_the_api_document() {
    let app = spawn_app().await;
    let (status, document, _) = app.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.keys().all(|path| !path.starts_with("/console")));
    assert!(paths.keys().any(|path| path.starts_with("/v1/")));
    app.cleanup().await;
}
