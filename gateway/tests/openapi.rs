//! The OpenAPI document (`GET /openapi.json`) against the router it describes: every
//! documented operation is routed and every undocumented method refused, no route
//! is registered but through `routes!` (so every route is documented), request
//! bodies refuse unknown members, errors are problem+json, and each query takes
//! exactly the parameters documented for it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{spawn_app, TestApp};
use uuid::Uuid;

/// The methods checked on every path (HEAD follows GET in axum; OPTIONS is unused).
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// One documented operation.
struct Operation {
    path: String,
    method: Method,
    spec: Value,
}

async fn document(app: &TestApp) -> Value {
    let (status, document, content_type) = app.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    document
}

fn operations(document: &Value) -> Vec<Operation> {
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let spec = &item[method.as_str().to_lowercase()];
            if spec.is_object() {
                operations.push(Operation {
                    path: path.clone(),
                    method,
                    spec: spec.clone(),
                });
            }
        }
    }
    assert!(operations.len() >= 30, "{} operations", operations.len());
    operations
}

/// Follows a local `$ref` (`#/components/…`), if `value` is one.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            let target = document.pointer(pointer).expect(reference);
            resolve(document, target)
        }
        None => value,
    }
}

/// `path` with concrete values for its parameters: a fresh UUID for ids, a host
/// name, a day.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("a closed parameter") + start;
        out.push_str(&rest[..start]);
        let value = match &rest[start + 1..end] {
            name if name.ends_with("_id") => Uuid::now_v7().to_string(),
            "host" => "srv-a.example.com".to_owned(),
            "day" => "2026-11-20".to_owned(),
            other => panic!("no concrete value for path parameter {other}"),
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn is_no_such_route(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::NOT_FOUND
        && body["type"] == "urn:licensing-ledger:problem:not-found"
        && body["detail"] == "no such route"
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_a_success_and_problem_json_errors_for_every_operation() {
    let app = spawn_app().await;
    let document = document(&app).await;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let tags: BTreeSet<&str> = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    let mut operation_ids = BTreeSet::new();
    for operation in operations(&document) {
        let name = format!("{} {}", operation.method, operation.path);
        let id = operation.spec["operationId"].as_str().expect(&name);
        assert!(operation_ids.insert(id.to_owned()), "{name}: {id} twice");
        for tag in operation.spec["tags"].as_array().expect(&name) {
            assert!(tags.contains(tag.as_str().unwrap()), "{name}: tag {tag}");
        }
        let responses = operation.spec["responses"].as_object().expect(&name);
        assert!(responses.keys().any(|s| s.starts_with('2')), "{name}");
        if operation.path.starts_with("/health/") {
            continue; // a probe's 503 is its answer (what is down), not a problem
        }
        if operation.path.contains('{') {
            // A path parameter can always be malformed.
            assert!(responses.contains_key("400"), "{name}: no 400");
        }
        let errors = responses
            .iter()
            .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'));
        for (status, response) in errors {
            let content = &resolve(&document, response)["content"];
            let media: Vec<&String> = content.as_object().expect(&name).keys().collect();
            assert_eq!(media, ["application/problem+json"], "{name} {status}");
            assert_eq!(
                content["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{name} {status}"
            );
        }
    }
    every_reference_resolves(&document, &document);
    app.cleanup().await;
}

fn every_reference_resolves(document: &Value, value: &Value) {
    match value {
        Value::Object(members) => {
            if let Some(Value::String(reference)) = members.get("$ref") {
                let pointer = reference.strip_prefix('#').expect("a local reference");
                assert!(document.pointer(pointer).is_some(), "{reference}");
            }
            members
                .values()
                .for_each(|v| every_reference_resolves(document, v));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| every_reference_resolves(document, v)),
        _ => {}
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let document = document(&app).await;
    for operation in operations(&document) {
        let uri = concrete(&operation.path);
        let body = (operation.method == Method::POST).then(|| json!({}));
        let (status, answer, _) = app.call(operation.method.clone(), &uri, body).await;
        let name = format!("{} {uri}", operation.method);
        assert!(!is_no_such_route(status, &answer), "{name}: {answer}");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{name}: {answer}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn every_method_a_documented_path_does_not_document_is_refused_with_405() {
    let app = spawn_app().await;
    let document = document(&app).await;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if item[method.as_str().to_lowercase()].is_object() {
                continue;
            }
            let uri = concrete(path);
            let (status, answer, content_type) = app.call(method.clone(), &uri, None).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}: {answer}"
            );
            assert_eq!(content_type, "application/problem+json");
        }
    }
    app.cleanup().await;
}

/// What registering a route some other way than `routes!` would take: axum's own
/// registration methods, method routers (`get(handler)` needs `axum::routing`) and a
/// plain `Router`.
const OTHER_ROUTING: [&str; 7] = [
    ".route(",
    ".route_service(",
    ".nest_service(",
    "routing::",
    "MethodRouter",
    "MethodFilter",
    "Router::new()",
];

/// Whether `code` uses `pattern` as such (`Router::new()`, not `OpenApiRouter::new()`).
fn uses(code: &str, pattern: &str) -> bool {
    code.match_indices(pattern).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        !(pattern.starts_with(char::is_alphabetic)
            && before.is_some_and(|c| c.is_alphanumeric() || c == '_'))
    })
}

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_route_is_registered_but_with_routes_so_every_route_is_documented() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10);
    let mut registrations = 0;
    for file in files {
        // The console's static files are not the API: that module alone routes
        // with axum directly, and `gateway/tests/console.rs` checks they stay out
        // of the document and need no token.
        if file.ends_with("src/http/console.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        for (number, line) in source.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for pattern in OTHER_ROUTING {
                assert!(
                    !uses(code, pattern),
                    "{}:{}: `{pattern}` registers a route the OpenAPI document does not \
                     see; register it with `.routes(routes!(handler))` instead",
                    file.display(),
                    number + 1
                );
            }
            registrations += code.matches("routes!(").count();
        }
    }
    assert!(registrations >= 30, "{registrations} routes! registrations");
}

/// Every object schema reachable from `schema` refuses unknown members.
fn refuses_unknown_members(document: &Value, schema: &Value, at: &str) {
    let schema = resolve(document, schema);
    if schema["type"] == "object" || schema.get("properties").is_some() {
        assert_eq!(schema["additionalProperties"], false, "{at}");
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            refuses_unknown_members(document, property, &format!("{at}.{name}"));
        }
    }
    for key in ["items", "allOf", "oneOf", "anyOf"] {
        match &schema[key] {
            Value::Array(members) => members
                .iter()
                .for_each(|m| refuses_unknown_members(document, m, at)),
            Value::Null => {}
            member => refuses_unknown_members(document, member, &format!("{at}[]")),
        }
    }
}

#[tokio::test]
async fn every_request_body_refuses_unknown_members_as_documented() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let mut bodies = 0;
    for operation in operations(&document) {
        let Some(body) = operation.spec.get("requestBody") else {
            continue;
        };
        bodies += 1;
        let name = format!("{} {}", operation.method, operation.path);
        let schema = &body["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{name}: a JSON body");
        refuses_unknown_members(&document, schema, &name);
        let uri = concrete(&operation.path);
        let (status, problem, _) = app
            .call(operation.method, &uri, Some(json!({"zzz": 1})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("unknown field `zzz`"), "{name}: {problem}");
    }
    assert!(bodies >= 13, "{bodies} request bodies");
    app.cleanup().await;
}

/// The fuzz's finding: `POST /v1/log/cosignatures` answered a body that is not JSON
/// with a 415 its document did not list.
#[tokio::test]
async fn every_operation_with_a_json_body_documents_the_415_and_413_it_answers() {
    let app = spawn_app().await;
    let document = document(&app).await;
    for operation in operations(&document) {
        if operation.spec.get("requestBody").is_none() {
            continue;
        }
        let name = format!("{} {}", operation.method, operation.path);
        let responses = operation.spec["responses"].as_object().unwrap();
        for status in ["413", "415"] {
            assert!(responses.contains_key(status), "{name}: no {status}");
        }
        let (status, problem, _) = app
            .call(operation.method, &concrete(&operation.path), None)
            .await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{name}: {problem}"
        );
    }
    app.cleanup().await;
}

/// A value `schema` allows, as a query string would carry it.
fn plausible(document: &Value, schema: &Value) -> String {
    let schema = resolve(document, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first
            .as_str()
            .map_or_else(|| first.to_string(), str::to_owned);
    }
    if let Some(first) = schema["oneOf"].as_array().and_then(|items| items.first()) {
        return plausible(document, first);
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned(),
        kind => Some(kind.clone()),
    };
    match (
        kind.as_ref().and_then(Value::as_str),
        schema["format"].as_str(),
    ) {
        (Some("integer"), _) => schema["minimum"].as_i64().unwrap_or(1).max(1).to_string(),
        (Some("boolean"), _) => "true".to_owned(),
        (_, Some("date")) => "2026-01-15".to_owned(),
        (_, Some("date-time")) => "2026-01-15T08:00:00Z".to_owned(),
        _ => "x".to_owned(),
    }
}

fn is_unknown_parameter(status: StatusCode, problem: &Value, name: &str) -> bool {
    status == StatusCode::BAD_REQUEST
        && problem["field"] == format!("query.{name}")
        && problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("unknown parameter"))
}

#[tokio::test]
async fn each_query_takes_exactly_the_parameters_documented_for_it() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let queries = operations(&document)
        .into_iter()
        .filter(|op| op.method == Method::GET && op.path.starts_with("/v1/"));
    let mut checked = 0;
    for operation in queries {
        let uri = concrete(&operation.path);
        // An operation without parameters has no `parameters` member.
        let parameters = operation.spec["parameters"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for parameter in parameters.iter().filter(|p| p["in"] == "query") {
            let name = parameter["name"].as_str().unwrap();
            let schema = resolve(&document, &parameter["schema"]);
            // Every value of an enumeration must be taken; any other parameter must at
            // least be known (a plausible value may still be refused: `cursor=x`).
            let (values, each_valid) = match schema["enum"].as_array() {
                Some(values) => (
                    values
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect(),
                    true,
                ),
                None => (vec![plausible(&document, schema)], false),
            };
            for value in values {
                let query = serde_urlencoded::to_string([(name, &value)]).unwrap();
                let (status, problem, _) =
                    app.call(Method::GET, &format!("{uri}?{query}"), None).await;
                let refused = if each_valid {
                    status == StatusCode::BAD_REQUEST && problem["field"] == format!("query.{name}")
                } else {
                    is_unknown_parameter(status, &problem, name)
                };
                assert!(
                    !refused,
                    "GET {}: documented `{query}` refused: {problem}",
                    operation.path
                );
                checked += 1;
            }
        }
        let (status, problem, _) = app.call(Method::GET, &format!("{uri}?zzz=1"), None).await;
        assert!(
            is_unknown_parameter(status, &problem, "zzz"),
            "GET {}: undocumented `zzz` not refused: {status} {problem}",
            operation.path
        );
        // The refusal lists what the handler takes: exactly what is documented.
        let detail = problem["detail"].as_str().unwrap();
        let taken: BTreeSet<&str> = match detail.split_once("expected one of: ") {
            Some((_, taken)) => taken.split(", ").collect(),
            None => {
                assert!(detail.contains("takes no query parameters"), "{detail}");
                BTreeSet::new()
            }
        };
        let documented: BTreeSet<&str> = parameters
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(taken, documented, "GET {}", operation.path);
    }
    assert!(checked >= 80, "{checked} query parameter values");
    app.cleanup().await;
}
