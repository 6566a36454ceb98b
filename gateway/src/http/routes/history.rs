//! History for auditors, read straight from the event store (never from a read
//! model): a license's events, a license server's usage stream for a day, an
//! account's whole history as NDJSON, a license's state as of any instant (folded
//! from its events by the same domain code as the live aggregate), and an
//! account's landing page and license list as of any instant, rebuilt on demand:
//! its events up to then are replayed, through the projector's own code, into a
//! scratch schema inside a transaction that is rolled back once answered.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use ledger_domain::events::untag;
use ledger_domain::license::LicenseState;
use ledger_domain::usage::{ServerHost, UsageStreamId};
use ledger_domain::{AccountId, License, LicenseEvent, LicenseId};
use ledger_projections::consumer::Target;
use ledger_projections::contract::StoredEvent;
use ledger_projections::queries::landing_page::{self, LandingPage};
use ledger_projections::queries::search::search_page;
use ledger_projections::rebuild::create_scratch_copy;
use serde::Serialize;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{date, path_param, QueryParams};
use crate::http::openapi::{AccountPath, AsOf, HistoryErrors, LicensePath, Paging, ReplayErrors};
use crate::http::routes::search::Page;
use crate::http::routes::search_params::SearchQuery;
use crate::http::routes::{ndjson, read_options, search_params};
use crate::integrity::checkpoint::canonical::hex;
use crate::write::event_store::{self, CommitPosition, Horizon};
use crate::write::replay::{Replay, Until};

/// Most events a history page holds.
pub const MAX_PAGE: i64 = 1_000;
/// Events a history page holds when `limit` is absent.
const DEFAULT_PAGE: i64 = 100;
/// Events an export reads from the store at a time.
const EXPORT_BATCH: usize = 1_000;
/// Longest an export waits for an older running transaction before it ends
/// (the client continues later with `from_position`).
const SETTLE_WAIT: Duration = Duration::from_secs(5);

/// The history routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(license_history))
        .routes(routes!(license_state))
        .routes(routes!(usage_history))
        .routes(routes!(export))
        .routes(routes!(landing_page_then))
        .routes(routes!(licenses_then))
}

/// A page of one stream's history.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryPaging {
    /// Events after this sequence (0: from the start).
    #[param(minimum = 0, default = 0)]
    pub after_sequence: Option<i64>,
    /// Events per page.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<i64>,
}

/// A license server's usage stream for one day, in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UsageDayPath {
    /// The account.
    pub account_id: Uuid,
    /// The license server's host id.
    #[param(min_length = 1, max_length = 253)]
    pub host: String,
    /// The day (`YYYY-MM-DD`).
    pub day: chrono::NaiveDate,
}

/// Where an account's export starts.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportStart {
    /// Start after the event at this global position: an event of this account,
    /// else a 400.
    #[param(minimum = 1)]
    pub from_position: Option<i64>,
    /// Only events recorded at or after this instant (RFC 3339).
    pub from_time: Option<DateTime<Utc>>,
}

/// An event with everything recorded about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    /// `License` or `ServerUsage`.
    pub aggregate_type: String,
    /// The license, or the usage stream.
    pub aggregate_id: String,
    /// Position in its stream, from 1.
    pub sequence: i64,
    /// Position in the whole store.
    pub global_position: i64,
    /// Event name.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Event version.
    pub version: String,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Who and what caused it: actor, occurred_at, request_id, traceparent,
    /// idempotency key — as recorded.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The event body, as on the stream, in the version it was stored at.
    #[schema(value_type = Object)]
    pub body: Value,
}

impl From<StoredEvent> for HistoryEvent {
    fn from(event: StoredEvent) -> Self {
        Self {
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            sequence: event.sequence,
            global_position: event.global_position,
            event_type: event.event_type,
            version: event.event_version,
            recorded_at: event.recorded_at,
            metadata: event.metadata,
            body: untag(event.payload),
        }
    }
}

/// An exported event: as in a history page, with the bytes its hash covers, so an
/// auditor recomputes the hash — and, with its inclusion proof, finds it in the
/// signed transparency log — without the database.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedEvent {
    /// The event.
    #[serde(flatten)]
    pub event: HistoryEvent,
    /// Its stored content hash (hex): its chain link and its leaf's data in the
    /// transparency log.
    pub hash: String,
    /// The previous event's hash in its stream (hex); absent for sequence 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_hash: Option<String>,
    /// The stored payload JSON text, byte for byte as hashed.
    pub stored_payload: String,
    /// The stored metadata JSON text, byte for byte as hashed.
    pub stored_metadata: String,
}

/// The batch's events with their stored bytes, read in one query.
async fn exported(
    connection: &mut sqlx::PgConnection,
    events: Vec<StoredEvent>,
) -> sqlx::Result<Vec<ExportedEvent>> {
    let positions: Vec<i64> = events.iter().map(|e| e.global_position).collect();
    let mut bytes: std::collections::HashMap<i64, event_store::StoredBytes> =
        event_store::stored_bytes(connection, &positions)
            .await?
            .into_iter()
            .map(|b| (b.global_position, b))
            .collect();
    events
        .into_iter()
        .map(|event| {
            let stored = bytes
                .remove(&event.global_position)
                .ok_or_else(|| sqlx::Error::RowNotFound)?;
            Ok(ExportedEvent {
                event: HistoryEvent::from(event),
                hash: hex(&stored.hash),
                previous_hash: stored.previous_hash.as_deref().map(hex),
                stored_payload: stored.payload,
                stored_metadata: stored.metadata,
            })
        })
        .collect()
}

/// A page of one stream's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// Oldest first.
    pub events: Vec<HistoryEvent>,
    /// Pass as `after_sequence` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after_sequence: Option<i64>,
}

/// A license's events, oldest first, each with its metadata.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/history",
    operation_id = "get_license_history",
    tag = "history",
    params(LicensePath, HistoryPaging),
    responses((status = 200, description = "A page of events", body = HistoryPage), HistoryErrors),
)]
async fn license_history(
    State(state): State<AppState>,
    Path((account_id, license_id)): Path<(String, String)>,
    params: QueryParams,
) -> Result<Json<HistoryPage>, ApiError> {
    let account: AccountId = path_param("account_id", &account_id)?;
    let license: LicenseId = path_param("license_id", &license_id)?;
    stream_page(&state, &params, account, "License", &license.to_string()).await
}

/// A license server's usage reports for one day: every report, corrections included.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/license-servers/{host}/usage/{day}/history",
    operation_id = "get_usage_history",
    tag = "history",
    params(UsageDayPath, HistoryPaging),
    responses((status = 200, description = "A page of events", body = HistoryPage), HistoryErrors),
)]
async fn usage_history(
    State(state): State<AppState>,
    Path((account_id, host, day)): Path<(String, String, String)>,
    params: QueryParams,
) -> Result<Json<HistoryPage>, ApiError> {
    let account: AccountId = path_param("account_id", &account_id)?;
    let host = ServerHost::parse(&host)
        .map_err(|error| ApiError::bad_request("path.host", error.to_string()))?;
    let day = date(&day).map_err(|detail| ApiError::bad_request("path.day", detail))?;
    let stream = UsageStreamId::of(account, &host, day);
    stream_page(&state, &params, account, "ServerUsage", &stream.to_string()).await
}

async fn stream_page(
    state: &AppState,
    params: &QueryParams,
    account: AccountId,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Json<HistoryPage>, ApiError> {
    params.only(&["after_sequence", "limit"])?;
    let after = params
        .get("after_sequence", |raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| "a sequence: a whole number from 0".to_owned())
        })?
        .unwrap_or(0);
    let limit = params
        .get("limit", |raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| format!("1 to {MAX_PAGE}"))
        })?
        .unwrap_or(DEFAULT_PAGE);
    let mut connection = state
        .pool
        .acquire()
        .await
        .context("acquiring a connection to read a stream's history")?;
    let events = event_store::stream_events(
        &mut connection,
        aggregate_type,
        aggregate_id,
        account.0,
        after,
        limit,
    )
    .await
    .context("reading the stream's events")?;
    if events.is_empty() {
        // Past the end of a stream that exists is an empty page; a stream with no
        // events in this account does not exist.
        let first = event_store::stream_events(
            &mut connection,
            aggregate_type,
            aggregate_id,
            account.0,
            0,
            1,
        )
        .await
        .context("reading the stream's first event")?;
        if first.is_empty() {
            return Err(ApiError::NotFound("no such history in this account".into()));
        }
    }
    let next_after_sequence = match events.last() {
        Some(last) if events.len() as i64 == limit => Some(last.sequence),
        _ => None,
    };
    Ok(Json(HistoryPage {
        events: events.into_iter().map(HistoryEvent::from).collect(),
        next_after_sequence,
    }))
}

/// A license as it was at an instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseAsOf {
    /// The license.
    #[schema(value_type = Uuid)]
    pub license_id: LicenseId,
    /// The instant.
    pub as_of: DateTime<Utc>,
    /// Its version then: the last event recorded by that instant.
    pub version: i64,
    /// Global position of that event.
    pub position: i64,
    /// Its state then, folded from its events by the domain's own `apply`: the
    /// account, the terms, `activated_at`, `hidden` and every allocation by id.
    #[schema(value_type = Object)]
    pub state: LicenseState,
}

/// A license as it was at an instant, folded from the events recorded by then.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/state",
    operation_id = "get_license_state_as_of",
    tag = "history",
    params(LicensePath, AsOf),
    responses((status = 200, description = "The license then", body = LicenseAsOf), HistoryErrors),
)]
async fn license_state(
    State(state): State<AppState>,
    Path((account_id, license_id)): Path<(String, String)>,
    params: QueryParams,
) -> Result<Json<LicenseAsOf>, ApiError> {
    params.only(&["as_of"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let license: LicenseId = path_param("license_id", &license_id)?;
    let as_of = read_options::as_of(&params)?;
    let mut connection = state
        .pool
        .acquire()
        .await
        .context("acquiring a connection to read the license's history")?;
    let mut events = Vec::new();
    let mut last = None;
    let (mut after, mut done) = (0, false);
    while !done {
        let page = event_store::stream_events(
            &mut connection,
            "License",
            &license.to_string(),
            account.0,
            after,
            MAX_PAGE,
        )
        .await
        .context("reading the license's events")?;
        done = (page.len() as i64) < MAX_PAGE;
        for stored in page {
            // A stream's events are recorded in sequence order: the first one past
            // the instant ends its history as of then.
            if stored.recorded_at > as_of {
                done = true;
                break;
            }
            after = stored.sequence;
            last = Some((stored.sequence, stored.global_position));
            let event = LicenseEvent::decode(
                &stored.event_type,
                &stored.event_version,
                untag(stored.payload),
            )
            .map_err(|error| {
                ApiError::Internal(anyhow::anyhow!("license {license} event {after}: {error}"))
            })?;
            events.push(event);
        }
    }
    let replayed = License::replay(&events);
    match (replayed.state(), last) {
        (Some(license_state), Some((version, position))) => Ok(Json(LicenseAsOf {
            license_id: license,
            as_of,
            version,
            position,
            state: license_state.clone(),
        })),
        _ => Err(ApiError::NotFound(
            "no such license in this account at that instant".into(),
        )),
    }
}

/// Every event of the account as NDJSON, in commit order.
///
/// Every event of the account in commit order (the order
/// of the stream), one JSON object a line, streamed as it is read, each with the
/// stored bytes its hash covers. Only events no
/// running transaction can precede are included (an export waits a few seconds
/// for an older transaction to end), so continuing later from the last line's
/// `global_position` never skips one.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/events.ndjson",
    operation_id = "export_account_events",
    tag = "history",
    params(AccountPath, ExportStart),
    responses(
        (status = 200, description = "One event (as in a history page, with its stored bytes) a line", body = ExportedEvent,
            content_type = "application/x-ndjson"),
        ReplayErrors,
    ),
)]
async fn export(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    params.only(&["from_position", "from_time"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let since = params.get("from_time", |raw| {
        DateTime::parse_from_rfc3339(raw)
            .map(|instant| instant.with_timezone(&Utc))
            .map_err(|_| "an RFC 3339 instant".to_owned())
    })?;
    let from_position = params.get("from_position", |raw| {
        raw.parse::<i64>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| "a global position: a whole number from 1".to_owned())
    })?;
    let start = match from_position {
        None => CommitPosition::default(),
        Some(position) => {
            let mut connection = state
                .pool
                .acquire()
                .await
                .context("acquiring a connection to find from_position")?;
            event_store::commit_position_of(&mut connection, position, account.0)
                .await
                .context("finding the event at from_position")?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "query.from_position",
                        "no event of this account is at that position",
                    )
                })?
        }
    };
    let pool = state.pool.clone();
    let account = account.0;
    // The state between reads: where the next starts, or `None` once done.
    let lines = futures::stream::unfold(Some(start), move |next| {
        let pool = pool.clone();
        async move {
            let after = next?;
            let read = async {
                let mut connection = pool.acquire().await?;
                let give_up = Instant::now() + SETTLE_WAIT;
                let mut pause = Duration::from_millis(10);
                loop {
                    let batch = event_store::events_after(
                        &mut connection,
                        after,
                        EXPORT_BATCH,
                        Horizon::Settled,
                        Some(account),
                        since,
                    )
                    .await?;
                    // Later events held back by an older transaction still running
                    // (anywhere in the cluster): give it a moment to end.
                    if !(batch.events.is_empty() && batch.held_back) || Instant::now() >= give_up {
                        let held_back = batch.held_back;
                        let count = batch.events.len();
                        let last = batch.events.last().map(CommitPosition::from);
                        let events = exported(&mut connection, batch.events).await?;
                        return Ok::<_, sqlx::Error>((events, count, held_back, last));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
            };
            match read.await {
                Err(error) => Some((Err(error), None)),
                Ok((events, count, held_back, last)) => {
                    let more = last.filter(|_| count == EXPORT_BATCH || held_back);
                    let text = events.iter().map(ndjson::line).collect::<String>();
                    Some((Ok(text), more))
                }
            }
        }
    });
    Ok(ndjson::response(lines, "history export"))
}

/// Replays `account`'s events recorded by `as_of` into a fresh scratch schema
/// inside `tx`; returns the schema's name. Nothing of it outlives the transaction.
async fn replay_account(
    tx: &mut Transaction<'_, Postgres>,
    account: Uuid,
    as_of: DateTime<Utc>,
) -> Result<String, ApiError> {
    let schema = format!("history_{}", Uuid::now_v7().simple());
    create_scratch_copy(tx, &schema)
        .await
        .context("creating the replay's scratch schema")?;
    let replay = Replay {
        target: Target {
            schema: &schema,
            projection: "history",
        },
        account: Some(account),
        until: Until::RecordedBy(as_of),
        batch_size: EXPORT_BATCH,
    };
    replay
        .run(tx, &mut CommitPosition::default())
        .await
        .context("replaying the account's events")?;
    Ok(schema)
}

/// The landing page as it was at an instant, rebuilt from the account's events.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/history/landing-page",
    operation_id = "get_landing_page_as_of",
    tag = "history",
    params(AccountPath, AsOf),
    responses((status = 200, description = "The landing page then", body = LandingPage), ReplayErrors),
)]
async fn landing_page_then(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<LandingPage>, ApiError> {
    params.only(&["as_of"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let as_of = read_options::as_of(&params)?;
    let mut tx = state
        .pool
        .begin()
        .await
        .context("starting the replay's transaction")?;
    let schema = replay_account(&mut tx, account.0, as_of).await?;
    let (_, page) = landing_page::landing_page(&mut tx, &schema, account.0, as_of)
        .await
        .context("reading the replayed landing page")?;
    tx.rollback().await.context("rolling back the replay")?;
    Ok(Json(page))
}

/// A license search as it would have answered at an instant, rebuilt from the
/// account's events.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/history/licenses",
    operation_id = "search_licenses_as_of",
    tag = "history",
    params(AccountPath, SearchQuery, AsOf, Paging),
    responses((status = 200, description = "A page of lines", body = Page), ReplayErrors),
)]
async fn licenses_then(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<Page>, ApiError> {
    let mut allowed = search_params::SEARCH_PARAMS.to_vec();
    allowed.extend(["limit", "cursor"]);
    params.only(&allowed)?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let as_of = read_options::as_of(&params)?;
    let search = search_params::search(&params, account.0, as_of)?;
    let limit = search_params::limit(&params)?;
    let after = search_params::after(&params, &search)?;
    let mut tx = state
        .pool
        .begin()
        .await
        .context("starting the replay's transaction")?;
    let schema = replay_account(&mut tx, account.0, as_of).await?;
    let items = search_page(&mut tx, &schema, &search, after.as_ref(), limit)
        .await
        .context("searching the replayed licenses")?;
    tx.rollback().await.context("rolling back the replay")?;
    Ok(Json(Page::new(&search, items, limit)))
}
