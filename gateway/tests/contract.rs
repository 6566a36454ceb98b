//! What the OpenAPI document admits the server accepts, and what the server
//! refuses the document says it refuses: the disagreements the schemathesis fuzz
//! (`tests/tests/http_contract_fuzz.rs`) found, each kept from coming back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ledger_gateway::auth::Role;
use serde_json::{json, Value};
use support::{activated_license, purchase, spawn_app, TestApp};
use uuid::Uuid;

/// POSTs `text` as a JSON body, exactly as written.
async fn post_text(app: &TestApp, uri: &str, text: &str) -> (StatusCode, Value) {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(text.to_owned()))
        .unwrap();
    let (status, body, _) = app.send(request).await;
    (status, body)
}

#[tokio::test]
async fn a_whole_number_written_with_a_fraction_or_an_exponent_is_that_integer() {
    // JSON Schema's `integer`, which the document uses, admits 5.0 and 1e1.
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let mut body = purchase(1);
    body["quantity"] = json!("QUANTITY");
    let text = body.to_string().replace("\"QUANTITY\"", "1e1");
    let (status, purchased) =
        post_text(&app, &format!("/v1/accounts/{account}/licenses"), &text).await;
    assert_eq!(status, StatusCode::CREATED, "{purchased}");
    assert_eq!(purchased["events"][0]["body"]["quantity"], 10);

    let license = activated_license(&app, account, 10).await;
    let uri = format!("/v1/accounts/{account}/licenses/{license}/allocations");
    let (status, allocated) = post_text(&app, &uri, r#"{"host": "srv-a", "quantity": 5.0}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{allocated}");
    assert_eq!(allocated["events"][0]["body"]["quantity"], 5);

    let (status, problem) = post_text(&app, &uri, r#"{"host": "srv-a", "quantity": 2.5}"#).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("quantity")),
        "{problem}"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_member_given_twice_is_refused_rather_than_one_of_them_winning() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let license = activated_license(&app, account, 10).await;
    let uri = format!("/v1/accounts/{account}/licenses/{license}/allocations");
    let text = r#"{"host": "srv-a", "quantity": 1, "quantity": 9}"#;
    let (status, problem) = post_text(&app, &uri, text).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("`quantity` given twice"),
        "{problem}"
    );
    assert_eq!(
        app.event_count().await,
        2,
        "only the purchase and activation"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn as_of_is_within_1970_to_9999_as_written_whatever_its_offset() {
    // The document's pattern sees the written year; an offset that moves the
    // instant across a year boundary in UTC changes nothing.
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let landing = |as_of: &str| {
        format!(
            "/v1/accounts/{account}/landing-page?as_of={}",
            as_of.replace('+', "%2B")
        )
    };
    for (as_of, expected) in [
        ("1970-01-01T00:30:00+01:00", StatusCode::OK),
        ("9999-12-31T23:00:00-05:00", StatusCode::OK),
        ("1969-12-31T23:00:00-05:00", StatusCode::BAD_REQUEST),
        ("0910-04-04T03:38:20-16:42", StatusCode::BAD_REQUEST),
    ] {
        let (status, body, _) = app.call(Method::GET, &landing(as_of), None).await;
        assert_eq!(status, expected, "{as_of}: {body}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn an_account_name_is_at_most_200_characters_as_sent_and_never_blank_or_controlled() {
    let app = spawn_app().await;
    let name = |name: String| json!({ "name": name });
    for (body, expected) in [
        (name(format!(" {}", "a".repeat(199))), StatusCode::CREATED),
        (
            name(format!(" {}", "a".repeat(200))),
            StatusCode::BAD_REQUEST,
        ),
        (name("\u{3000}\u{a0} ".into()), StatusCode::BAD_REQUEST),
        (name("Acme\u{1b}".into()), StatusCode::BAD_REQUEST),
        (name("\u{feff}".into()), StatusCode::CREATED),
    ] {
        let (status, answer, _) = app
            .call(Method::POST, "/v1/accounts", Some(body.clone()))
            .await;
        assert_eq!(status, expected, "{body}: {answer}");
    }
    app.cleanup().await;
}

/// The `oneOf` shapes of a new token in the document.
async fn token_shapes(app: &TestApp) -> Vec<Value> {
    let (_, document, _) = app.call(Method::GET, "/openapi.json", None).await;
    let operation = &document["paths"]["/v1/accounts/{account_id}/tokens"]["post"];
    let reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    document["components"]["schemas"][reference]["oneOf"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn every_token_the_document_admits_is_issued_and_no_other() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin, None, None);
    let (_, account, _) = app
        .call(Method::POST, "/v1/accounts", Some(json!({"name": "Acme"})))
        .await;
    let uri = format!(
        "/v1/accounts/{}/tokens",
        account["account_id"].as_str().unwrap()
    );
    let issue = |body: Value| {
        let request = Request::post(&uri)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {admin}"))
            .body(Body::from(body.to_string()))
            .unwrap();
        app.send(request)
    };
    let shapes = token_shapes(&app).await;
    let mut documented = Vec::new();
    for shape in &shapes {
        let takes_host = shape["required"]
            .as_array()
            .unwrap()
            .contains(&json!("host"));
        if !takes_host {
            assert_eq!(shape["properties"]["host"]["type"], "null", "{shape}");
        }
        assert_eq!(shape["additionalProperties"], false);
        for role in shape["properties"]["role"]["enum"].as_array().unwrap() {
            documented.push(role.as_str().unwrap().to_owned());
            let mut body = json!({"role": role, "subject": "fuzz"});
            if takes_host {
                body["host"] = json!("srv-a");
            }
            let (status, answer, _) = issue(body.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}: {answer}");
            // Null where the document admits it: the default.
            body["valid_for_hours"] = Value::Null;
            if !takes_host {
                body["host"] = Value::Null;
            }
            let (status, answer, _) = issue(body.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}: {answer}");
            // The other shape's host rule is refused.
            if takes_host {
                body.as_object_mut().unwrap().remove("host");
            } else {
                body["host"] = json!("srv-a");
            }
            let (status, answer, _) = issue(body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        }
    }
    documented.sort();
    assert_eq!(
        documented,
        ["auditor", "license_server", "portal", "read_only"]
    );
    let (status, answer, _) = issue(json!({"role": "admin", "subject": "fuzz"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    app.cleanup().await;
}

#[tokio::test]
async fn every_if_match_the_document_admits_is_a_version_the_license_is_or_is_not_at() {
    // The fuzz sent a 24-digit version, which the pattern admitted and the server
    // could not parse; the pattern now says at most 18 digits (all fit a version).
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let license = activated_license(&app, account, 10).await;
    let (_, document, _) = app.call(Method::GET, "/openapi.json", None).await;
    let operation =
        &document["paths"]["/v1/accounts/{account_id}/licenses/{license_id}/hide"]["post"];
    let pattern = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "If-Match")
        .unwrap()["schema"]["pattern"]
        .clone();
    assert_eq!(pattern, r#"^(\*|"[0-9]{1,18}")$"#);
    let hide = |if_match: &'static str| {
        let request = Request::post(format!("/v1/accounts/{account}/licenses/{license}/hide"))
            .header("if-match", if_match)
            .body(Body::empty())
            .unwrap();
        app.send(request)
    };
    let (status, problem, _) = hide("\"999999999999999999\"").await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{problem}");
    let (status, problem, _) = hide("\"2\"").await;
    assert_eq!(status, StatusCode::OK, "{problem}");
    app.cleanup().await;
}
