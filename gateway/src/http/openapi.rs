//! The OpenAPI 3.1 document of the HTTP API, generated from the code and served at
//! `GET /openapi.json`.
//!
//! # How it stays true
//! Every route is registered with `utoipa_axum::routes!(handler)` on an
//! [`OpenApiRouter`]: the macro takes the path and method from the handler's
//! `#[utoipa::path(...)]` and registers the handler there, so a route cannot exist
//! undocumented nor a documented route be missing. Each module of [`crate::http::routes`]
//! returns such a router from `router()`; [`api`] merges them (adding a resource is
//! one line there) and [`crate::http::app::app`] serves the result. The tests in
//! `gateway/tests/openapi.rs` call every documented operation, check that every
//! undocumented method is a 405, that no route is registered another way, and
//! that the query parameters documented are those the handlers accept.
//!
//! # What this module holds
//! The pieces every route module shares: the [`Problem`] schema and the error
//! answers built on it (one component per status, grouped per kind of operation:
//! [`LicenseCommandErrors`], [`QueryErrors`], …), the path parameters
//! ([`AccountPath`], [`LicensePath`], [`AllocationPath`]), the command headers
//! ([`CommandHeaders`], [`IfMatchHeader`]), the reusable command answers
//! ([`LicenseRecorded`], …) and wire enums the domain parses from text
//! ([`EditionCode`], …). Request and answer types live beside their handlers.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Required, Schema};
use utoipa::{IntoParams, IntoResponses, ToResponse, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::app::AppState;
use crate::http::routes;
use crate::http::routes::bulk::BulkAnswer;
use crate::http::routes::licenses::CommandResponse;
use crate::http::routes::usage::{BatchRecorded, Recorded as UsageRecord};

/// Every documented route, with its documentation: the one place route modules
/// are put together.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(routes::licenses::router())
        .merge(routes::bulk::router())
        .merge(routes::landing_page::router())
        .merge(routes::search::router())
        .merge(routes::asset_components::router())
        .merge(routes::license_servers::router())
        .merge(routes::license_files::router())
        .merge(routes::server_license_file::router())
        .merge(routes::usage::router())
        .merge(routes::history::router())
        .merge(routes::integrity::router())
        .merge(routes::transparency::router())
        .merge(routes::accounts::router())
        .merge(routes::health::router())
        .merge(routes::metrics::router())
        .merge(OpenApiRouter::new().routes(routes!(openapi_json)))
}

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| {
        let mut document = api().into_openapi();
        // The access rules need every path, so they are added once all are merged.
        utoipa::Modify::modify(&crate::http::openapi_access::BearerTokens, &mut document);
        document
    });
    &DOCUMENT
}

/// This document: the API's contract, for viewers and client generators.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "get_openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
async fn openapi_json() -> Json<&'static OpenApi> {
    Json(document())
}

/// The document's fixed parts: info, tags and the shared components.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "licensing-ledger",
        version = env!("CARGO_PKG_VERSION"),
        description = "An event-sourced ledger of software licenses: commands that record \
            events, and the read models built from them. The README's \"HTTP API\" section \
            explains the rules, the optimistic concurrency (`ETag` / `If-Match`), \
            idempotency keys and read-your-writes (`position` / `min_position`). Every \
            error is `application/problem+json` (`Problem`); bodies are JSON of at most \
            64 KiB, and unknown members or a member given twice are refused (400); a \
            whole number may be written with a fraction or an exponent (`5.0`, `5e0`). Any operation may also answer \
            405 (another method) or 500 (opaque; the cause is logged), both as problems, \
            and a request still running after 30 s ends with an empty 408.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "licenses", description = "Purchase, activate, hide, renew and upgrade licenses; read and search them"),
        (name = "allocations", description = "Allocate seats to license servers, move and return them"),
        (name = "bulk", description = "One action over up to 500 licenses, each command recorded on its own"),
        (name = "landing-page", description = "The portal's landing page"),
        (name = "expiry", description = "Term licenses by days to expiry"),
        (name = "exports", description = "CSV downloads, streamed"),
        (name = "asset-components", description = "Licenses grouped by order number or access code"),
        (name = "license-servers", description = "What is allocated on each license server"),
        (name = "license-files", description = "Signed license files of live allocations, and the public keys to verify them"),
        (name = "usage", description = "Usage reports from license servers, and overdraft"),
        (name = "history", description = "Auditors: events with their metadata, state as of an instant, NDJSON export, read from the event store"),
        (name = "integrity", description = "Auditors: the event hash chains verified"),
        (name = "transparency", description = "The transparency log: signed checkpoints, \
            inclusion and consistency proofs, checkable offline with the log's public key"),
        (name = "accounts", description = "Admins: accounts and their bearer tokens"),
        (name = "health", description = "Liveness, readiness, each role's progress, and Prometheus metrics"),
        (name = "meta", description = "This document"),
    ),
    components(
        schemas(Problem, CommandResponse, BulkAnswer, UsageRecord, BatchRecorded),
        responses(
            BadRequest, NotFound, Conflict, PreconditionFailed, Gone, PayloadTooLarge,
            UnsupportedMediaType, Unprocessable, ServiceUnavailable, Unauthorized, Forbidden,
            TooManyRequests,
            LicenseRecorded, LicensePurchased, BulkDone, UsageRecorded, UsageBatchRecorded,
        ),
    ),
)]
struct ApiDoc;

// ---------------------------------------------------------------------------
// Errors

/// An error, as RFC 9457 problem details (`application/problem+json`). More members
/// may be added; ignore those you do not know.
#[derive(ToSchema)]
pub struct Problem {
    /// `urn:licensing-ledger:problem:<code>`: `bad-request`, `not-found`,
    /// `allocation-not-found`, `already-purchased`, `conflict`, `several-host-ids`,
    /// `version-mismatch`, `idempotency-key-reused`, `idempotency-key-in-use`,
    /// `payload-too-large`, `unsupported-media-type`, `method-not-allowed`,
    /// `read-model-lagging`, `incompatible-selection`, `internal`, or the broken
    /// rule's code.
    #[serde(rename = "type")]
    #[schema(
        format = "uri",
        example = "urn:licensing-ledger:problem:allocation-exceeds-available"
    )]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What happened, for people.
    pub detail: String,
    /// Where the input is at fault: `quantity`, `path.license_id`, `query.as_of`,
    /// `header.if-match`, `header.idempotency-key`, `body`, `reports[2]`, `license_ids`;
    /// on a 422, the body member the broken rule is about (`quantity` for
    /// `allocation-exceeds-available`, `new_host` for `same-host`), absent when the
    /// rule is about the license's state.
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// A 422's broken rule, e.g. `allocation-exceeds-available`.
    #[schema(nullable = false)]
    pub rule: Option<String>,
    /// The rule's facts (e.g. `{"requested": 1, "available": 0}`); for a 412,
    /// `expected` and `current` versions.
    #[schema(value_type = Option<Object>, nullable = false)]
    pub facts: Option<serde_json::Value>,
    /// An incompatible bulk selection: the first selected license, which the
    /// others are compared with.
    #[schema(nullable = false)]
    pub reference_license_id: Option<Uuid>,
    /// An incompatible bulk selection: each license that cannot take the action.
    #[schema(nullable = false)]
    pub incompatible: Option<Vec<Incompatible>>,
}

/// A selected license that cannot take a bulk action with the others.
#[derive(ToSchema)]
pub struct Incompatible {
    /// The license.
    pub license_id: Uuid,
    /// What differs: `license`, `binding_type`, `allocated`, `hidden` or `term`.
    pub attribute: String,
    /// What the action needs (the first license's value, for a comparison).
    pub expected: String,
    /// What this license has.
    pub actual: String,
}

/// A problem+json answer of `description`, with a `Retry-After` header if `retry`.
fn problem_response(description: &str, retry: bool) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/problem+json",
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
    if retry {
        response = response.header(
            "Retry-After",
            header(
                Type::Integer,
                "Seconds to wait before retrying, when given.",
            ),
        );
    }
    response.build().into()
}

/// A header of `kind` described by `description`.
fn header(kind: Type, description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(kind)))
        .description(Some(description))
        .build()
}

/// Reusable error answers: each a component named after the type, at one status.
macro_rules! problems {
    ($($(#[$doc:meta])* $name:ident = $status:literal, retry: $retry:literal, $description:literal;)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'s> ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    (stringify!($name), problem_response($description, $retry))
                }
            }
        )+

        /// The error components by status.
        fn problem_component(status: u16) -> Option<&'static str> {
            match status {
                $($status => Some(stringify!($name)),)+
                _ => None,
            }
        }
    };
}

problems! {
    /// 400.
    BadRequest = 400, retry: false,
        "The input does not parse or is out of range (an unknown member or query \
         parameter included); `field` names where.";
    /// 404.
    NotFound = 404, retry: false,
        "No such license, allocation or license server in this account (another \
         account's license is no license at all).";
    /// 409.
    Conflict = 409, retry: true,
        "The license id is taken (`already-purchased`), concurrent changes won every \
         retry (`conflict`; nothing was recorded), a request with the same \
         `Idempotency-Key` is still running (`idempotency-key-in-use`, with `Retry-After`), \
         or a license server's file was asked for without `binding_type` while the host \
         holds allocations of several binding types (`several-host-ids`; `facts` has \
         `binding_types`).";
    /// 412.
    PreconditionFailed = 412, retry: false,
        "`If-Match` names another version than the license's; nothing was recorded. \
         `facts` has `expected` and `current`.";
    /// 410.
    Gone = 410, retry: false,
        "The license file is void (its allocation moved or was returned, or a renewal or \
         upgrade re-issued it): `replaced_by` names its successor, also in a \
         `Link: <…>; rel=\"successor-version\"` header, or is null.";
    /// 413.
    PayloadTooLarge = 413, retry: false, "The body is over 64 KiB.";
    /// 415.
    UnsupportedMediaType = 415, retry: false,
        "The body is not `application/json`.";
    /// 422.
    Unprocessable = 422, retry: false,
        "A business rule refused the command and nothing was recorded (`rule`, `facts`; \
         in a batch `field` names the item), the `Idempotency-Key` was used with another \
         request (`idempotency-key-reused`), or a bulk selection cannot take the action \
         together (`incompatible-selection`, with `incompatible`).";
    /// 401.
    Unauthorized = 401, retry: false,
        "No bearer token, or one that is malformed, expired, not yet valid, for another \
         issuer or audience, or not signed by a configured key. `WWW-Authenticate` says \
         `Bearer`.";
    /// 403.
    Forbidden = 403, retry: false,
        "The token's role may not do this (the roles that may are this operation's \
         security scopes), or a license-server token reported another host's usage.";
    /// 429.
    TooManyRequests = 429, retry: true,
        "The token's rate limit is spent; retry after `Retry-After` seconds.";
    /// 503.
    ServiceUnavailable = 503, retry: true,
        "Retry after `Retry-After`: the database cannot be reached right now \
         (`store-unavailable`; a command sent again with its `Idempotency-Key` is \
         answered from what was recorded), or the read model had not applied \
         `min_position` within `read_wait_timeout_ms` (`read-model-lagging`). (A \
         license file download also answers 503, without `Retry-After`, when no \
         signing key is configured.)";
}

/// References to the error components of `statuses`.
pub(crate) fn problems(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .filter_map(|status| {
            let name = problem_component(*status)?;
            Some((
                status.to_string(),
                RefOr::Ref(Ref::from_response_name(name)),
            ))
        })
        .collect()
}

/// Groups of error answers, one per kind of operation.
macro_rules! error_groups {
    ($($(#[$doc:meta])* $name:ident: [$($status:literal),+];)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    problems(&[$($status),+])
                }
            }
        )+
    };
}

error_groups! {
    /// A purchase: a license id may be taken; `If-Match` may not hold.
    PurchaseErrors: [400, 409, 412, 413, 415, 422, 503];
    /// A command on one license, with a JSON body.
    LicenseCommandErrors: [400, 404, 409, 412, 413, 415, 422, 503];
    /// A command on one license without a body.
    LicenseActionErrors: [400, 404, 409, 412, 413, 422, 503];
    /// A command with a JSON body on no single license (bulk actions, usage reports).
    CommandErrors: [400, 409, 413, 415, 422, 503];
    /// A query.
    QueryErrors: [400, 503];
    /// A query of one thing, which may not exist.
    LookupErrors: [400, 404, 503];
    /// A license file download.
    LicenseFileErrors: [400, 404, 410, 503];
    /// A license server's file: every live allocation on a host.
    ServerFileErrors: [400, 404, 409, 503];
    /// A read of history from the event store, of one thing that may not exist.
    HistoryErrors: [400, 404, 503];
    /// A read of history from the event store.
    ReplayErrors: [400, 503];
    /// An admin's account or token operation.
    AdminErrors: [400, 404, 413, 415, 503];
    /// A witness's cosignature: a JSON body, of a checkpoint that may not exist.
    CosignatureErrors: [400, 404, 413, 415, 503];
}

// ---------------------------------------------------------------------------
// Command answers

const ETAG: &str = "The license's version as a strong ETag (`\"3\"`): pass it as `If-Match`.";
const REPLAYED: &str = "`true` when this is the kept answer to an earlier request with the \
    same `Idempotency-Key`; nothing was recorded again.";

/// A command answer of `T`, with the `Idempotent-Replayed` header and `extra`.
fn command_answer<T: ToSchema>(description: &str, extra: &[(&str, Header)]) -> RefOr<Response> {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name(T::name()))),
        )
        .header("Idempotent-Replayed", header(Type::Boolean, REPLAYED));
    for (name, value) in extra {
        response = response.header(*name, value.clone());
    }
    response.build().into()
}

/// Reusable command answers: a component named after the type.
macro_rules! answers {
    ($($(#[$doc:meta])* $name:ident => $build:expr;)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'s> ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    (stringify!($name), $build)
                }
            }
        )+
    };
}

answers! {
    /// A license command was recorded.
    LicenseRecorded => command_answer::<CommandResponse>(
        "Recorded: the events, the license's version and the global position of the last \
         event (pass it as `min_position` to read your write).",
        &[("ETag", header(Type::String, ETAG))],
    );
    /// A purchase was recorded.
    LicensePurchased => command_answer::<CommandResponse>(
        "Purchased: the `Purchased` event, version 1 and its global position.",
        &[
            ("Location", header(Type::String, "The license's URL.")),
            ("ETag", header(Type::String, ETAG)),
        ],
    );
    /// A bulk action ran (or, with `dry_run`, was decided).
    BulkDone => command_answer::<BulkAnswer>(
        "One result per command in selection order, and the overall `outcome`.",
        &[],
    );
    /// A usage report was recorded.
    UsageRecorded => command_answer::<UsageRecord>(
        "Recorded; `version` 2 or more is a correction of that server-day.",
        &[],
    );
    /// A batch of usage reports was recorded.
    UsageBatchRecorded => command_answer::<BatchRecorded>(
        "Every report recorded, in the order sent.",
        &[],
    );
}

// ---------------------------------------------------------------------------
// Parameters

/// The account in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccountPath {
    /// The account.
    pub account_id: Uuid,
}

/// A license in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LicensePath {
    /// The account.
    pub account_id: Uuid,
    /// The license.
    pub license_id: Uuid,
}

/// An allocation in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AllocationPath {
    /// The account.
    pub account_id: Uuid,
    /// The license.
    pub license_id: Uuid,
    /// The allocation.
    pub allocation_id: Uuid,
}

/// Headers every command accepts.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct CommandHeaders {
    /// Makes the command safe to retry: the same key with the same request answers the
    /// first answer again (`Idempotent-Replayed: true`) and records nothing, for
    /// `idempotency_retention_hours`. Unique per account; with another request, a 422.
    #[param(rename = "Idempotency-Key", nullable = false)]
    #[param(min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    pub idempotency_key: Option<String>,
}

/// The optimistic-concurrency header of a license command.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// `"N"` (the license's `ETag`, at most 18 digits): run only if the license is
    /// still at version N, else 412 and nothing is recorded. `*`: only if the
    /// license exists.
    #[param(rename = "If-Match", nullable = false)]
    #[param(pattern = r#"^(\*|"[0-9]{1,18}")$"#, example = "\"3\"")]
    pub if_match: Option<String>,
}

/// Read-your-writes for queries.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MinPosition {
    /// Wait (up to `read_wait_timeout_ms`, then 503) until the read model has applied
    /// this global position, e.g. a command answer's `position`. An unknown position
    /// is a 400.
    #[param(minimum = 1)]
    pub min_position: Option<i64>,
}

/// `as_of`: the instant time-dependent answers are computed for. (Written out: a
/// derived parameter with its own schema would lose its description.)
pub struct AsOf;

impl IntoParams for AsOf {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![ParameterBuilder::new()
            .name("as_of")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(
                "An RFC 3339 instant, or a `YYYY-MM-DD` date meaning the end of that day \
                 (UTC), within the years 1970 to 9999 as written; default now. Licenses purchased \
                 after it are left out.",
            ))
            .schema(Some(instant_or_date()))
            .build()]
    }
}

/// A page of up to 500 items.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Items per page.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`, from this same search: any other value
    /// is a 400.
    pub cursor: Option<String>,
}

/// The years every date the ledger stores or is asked about lies in, 1970 to 9999,
/// as the start of a `YYYY-MM-DD` date or an RFC 3339 instant.
pub const YEARS_1970_TO_9999: &str = "^(19[7-9][0-9]|[2-9][0-9]{3})-";

/// `as_of`'s schema: an instant or a date, within [`YEARS_1970_TO_9999`].
fn instant_or_date() -> Schema {
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
            .pattern(Some(YEARS_1970_TO_9999))
    };
    OneOfBuilder::new()
        .item(string(KnownFormat::DateTime))
        .item(string(KnownFormat::Date))
        .into()
}

// ---------------------------------------------------------------------------
// Wire enums the domain parses from text

/// A product edition; editions rank STD < ADV < ENT < PLT and upgrades only go up.
#[derive(ToSchema)]
pub enum EditionCode {
    /// Standard.
    #[serde(rename = "STD")]
    Standard,
    /// Advanced.
    #[serde(rename = "ADV")]
    Advanced,
    /// Enterprise.
    #[serde(rename = "ENT")]
    Enterprise,
    /// Platinum.
    #[serde(rename = "PLT")]
    Platinum,
}

/// How seats are counted.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseModelName {
    /// Per named user or device (`_UD` features).
    UserDevice,
    /// Concurrent users.
    ConcurrentUser,
    /// Concurrent systems.
    ConcurrentSystem,
    /// Per server.
    PerServer,
    /// Per socket.
    PerSocket,
    /// Per appliance.
    Appliance,
}

/// What a license server is identified by.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BindingTypeName {
    /// An RFC 1123 host name, case kept exactly.
    HostName,
    /// 12 hex digits.
    MacAddress,
    /// 1–64 letters, digits, `-` or `_`.
    HardwareSerial,
    /// 1–64 printable characters.
    OtherId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    fn names<T: PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap_or_default();
        let values = schema["enum"].as_array().cloned().unwrap_or_default();
        values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_documented_wire_enums_are_what_the_domain_parses() {
        use ledger_domain::{BindingType, Edition, LicenseModel};
        let editions = names::<EditionCode>();
        assert_eq!(editions, ["STD", "ADV", "ENT", "PLT"]);
        assert!(editions.iter().all(|e| Edition::parse(e).is_ok()));
        let models = names::<LicenseModelName>();
        assert_eq!(models.len(), 6);
        assert!(models.iter().all(|m| LicenseModel::parse(m).is_ok()));
        let bindings = names::<BindingTypeName>();
        assert_eq!(bindings.len(), 4);
        assert!(bindings.iter().all(|b| BindingType::parse(b).is_ok()));
    }

    #[test]
    fn the_documented_limits_are_the_enforced_ones() {
        use crate::http::routes::{bulk, search_params};
        let params = |list: Vec<Parameter>| serde_json::to_value(list).unwrap_or_default();
        let paging = params(Paging::into_params(|| None));
        assert_eq!(paging[0]["schema"]["maximum"], search_params::MAX_LIMIT);
        assert_eq!(paging[0]["schema"]["default"], search_params::DEFAULT_LIMIT);
        let headers = params(CommandHeaders::into_params(|| None));
        assert_eq!(
            headers[0]["schema"]["maxLength"],
            crate::http::idempotency::MAX_KEY_LENGTH
        );
        let selection = serde_json::to_value(bulk::BulkSelection::schema()).unwrap_or_default();
        assert_eq!(
            selection["properties"]["license_ids"]["maxItems"],
            bulk::MAX_SELECTION
        );
    }

    #[test]
    fn every_error_group_refers_to_a_component() {
        for group in [
            PurchaseErrors::responses(),
            LicenseCommandErrors::responses(),
            LicenseActionErrors::responses(),
            CommandErrors::responses(),
            QueryErrors::responses(),
            LookupErrors::responses(),
        ] {
            assert!(!group.is_empty());
            for status in group.keys() {
                let status: u16 = status.parse().unwrap_or_default();
                assert!(problem_component(status).is_some(), "{status}");
            }
        }
    }

    #[test]
    fn every_problem_body_uses_only_the_documented_members() {
        use crate::http::error::ApiError;
        use ledger_domain::bulk::Incompatibility;
        use ledger_domain::{LicenseError, LicenseId};
        let schema = serde_json::to_value(Problem::schema()).unwrap_or_default();
        let documented = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let errors = [
            ApiError::bad_request("quantity", "too big"),
            ApiError::UnsupportedMediaType,
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::MethodNotAllowed,
            ApiError::NotFound("no such license".into()),
            ApiError::rule(LicenseError::AlreadyActivated),
            ApiError::rule(LicenseError::QuantityMustBePositive { quantity: 0 }),
            ApiError::Conflict("lost".into()),
            ApiError::SeveralHostIds {
                host: "h".into(),
                binding_types: vec!["host_name".into(), "other_id".into()],
            },
            ApiError::IncompatibleSelection {
                reference: LicenseId(Uuid::nil()),
                incompatible: vec![Incompatibility {
                    license_id: LicenseId(Uuid::nil()),
                    attribute: "term",
                    expected: "term".into(),
                    actual: "perpetual".into(),
                }],
            },
            ApiError::PreconditionFailed {
                expected: "\"1\"".into(),
                current: 2,
            },
            ApiError::IdempotencyKeyReused,
            ApiError::IdempotencyKeyInUse { retry_after_s: 1 },
            ApiError::NotCaughtUp("later".into()),
            ApiError::Internal(anyhow::anyhow!("boom")),
        ];
        for error in errors {
            let body = error.into_problem().body;
            let members = body.as_object().cloned().unwrap_or_default();
            for required in schema["required"].as_array().into_iter().flatten() {
                let required = required.as_str().unwrap_or_default();
                assert!(members.contains_key(required), "`{required}` of {body}");
            }
            for name in members.keys() {
                assert!(documented.contains_key(name), "`{name}` of {body}");
            }
        }
    }
}
