//! Usage reports from license servers and the overdraft figures built from them:
//! `POST /usage-reports` (one) and `/usage-reports/batch` (many, all or nothing),
//! `GET /usage/overdraft`, `GET /usage/daily-totals`, `GET /exports/usage.csv`.

use std::collections::BTreeMap;

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{Days, NaiveDate, Utc};
use ledger_domain::usage::{ReportUsage, ServerHost, UsageStreamId};
use ledger_domain::AccountId;
use ledger_projections::queries::overdraft::{
    daily_totals, held_features, overdraft_lines, DailyTotal, LineKey, OverdraftLine,
    OverdraftQuery,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, ApiJson, QueryParams};
use crate::http::openapi::{
    AccountPath, CommandErrors, CommandHeaders, MinPosition, QueryErrors, UsageBatchRecorded,
    UsageRecorded,
};
use crate::http::routes::{key_cursor, read_options};
use crate::write::commands::CommandContext;

/// The usage routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report))
        .routes(routes!(report_batch))
        .routes(routes!(overdraft))
        .routes(routes!(totals))
        .routes(routes!(export))
}

/// One server's peaks for one day.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageReportBody {
    /// The license server's id: 1 to 253 printable characters.
    #[schema(min_length = 1, max_length = 253, pattern = "^[!-~]+$")]
    pub host: String,
    /// The day reported (not after today, UTC, else 422).
    pub day: NaiveDate,
    /// Peak in use per feature, each feature once (twice: a 400; empty: 422
    /// `nothing-reported`).
    pub peaks: Vec<PeakBody>,
}

/// One feature's peak.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeakBody {
    /// Feature name, e.g. `XDT_ENT_UD`; one the account holds a license for (else 422).
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Z0-9_]+$")]
    pub feature: String,
    /// Peak seats in use that day.
    pub peak_in_use: u32,
}

/// Many reports, recorded only if every one is acceptable.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// 1 to 1,000 reports.
    #[schema(min_items = 1, max_items = 1000)]
    pub reports: Vec<UsageReportBody>,
}

/// A recorded report.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UsageRecord)]
pub struct Recorded {
    /// The server.
    pub host: String,
    /// The day.
    pub day: NaiveDate,
    /// The server-day usage stream.
    #[schema(value_type = uuid::Uuid)]
    pub stream_id: UsageStreamId,
    /// Reports in that stream so far (1: first report; more: corrections).
    pub version: i64,
    /// Global position of the event, for `min_position`.
    pub position: i64,
}

/// Most reports in one batch.
const MAX_BATCH: usize = 1_000;

fn is_feature(raw: &str) -> bool {
    (3..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks a report's shape; `prefix` names it in a batch (`reports[2].`). A
/// license server's token reports for its own host only.
fn parse_report(
    body: UsageReportBody,
    prefix: &str,
    account: AccountId,
    reporter: &Caller,
    known_features: &std::collections::BTreeSet<String>,
) -> Result<ReportUsage, ApiError> {
    let host = ServerHost::parse(&body.host)
        .map_err(|e| ApiError::bad_request(format!("{prefix}host"), e.to_string()))?;
    if let Some(own) = &reporter.host {
        if *own != host {
            return Err(ApiError::Forbidden(format!(
                "{prefix}host: this token reports for license server `{}` only",
                own.as_str()
            )));
        }
    }
    let mut peaks = BTreeMap::new();
    for (index, peak) in body.peaks.into_iter().enumerate() {
        let field = format!("{prefix}peaks[{index}].feature");
        if !is_feature(&peak.feature) {
            return Err(ApiError::bad_request(
                field,
                "a feature name such as XDT_ENT_UD",
            ));
        }
        if peaks.insert(peak.feature, peak.peak_in_use).is_some() {
            return Err(ApiError::bad_request(
                field,
                "the feature is reported twice",
            ));
        }
    }
    Ok(ReportUsage {
        account_id: account,
        now: Utc::now(),
        host,
        day: body.day,
        peaks,
        known_features: known_features.clone(),
    })
}

async fn record(
    state: &AppState,
    context: &CommandContext,
    report: ReportUsage,
) -> Result<Recorded, ApiError> {
    let stream_id = UsageStreamId::of(report.account_id, &report.host, report.day);
    let (host, day) = (report.host.as_str().to_owned(), report.day);
    let recorded = state
        .usage
        .execute(&stream_id.to_string(), report, context, None)
        .await?;
    Ok(Recorded {
        host,
        day,
        stream_id,
        version: recorded.version,
        position: recorded.position,
    })
}

/// Records one license server's daily peaks.
///
/// A later report for the same server and day supersedes the earlier one's peaks,
/// feature by feature.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/usage-reports",
    operation_id = "report_usage",
    tag = "usage",
    params(AccountPath, CommandHeaders),
    request_body = UsageReportBody,
    responses((status = 201, response = UsageRecorded), CommandErrors),
)]
async fn report(
    State(state): State<AppState>,
    context: CommandContext,
    caller: Caller,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<UsageReportBody>,
) -> Result<Response, ApiError> {
    let account: AccountId = path_param("account_id", &account_id)?;
    let reported: Vec<&str> = body.peaks.iter().map(|p| p.feature.as_str()).collect();
    let known = held_features(&state.pool, account.0, &reported)
        .await
        .context("reading the features the account holds")?;
    let report = parse_report(body, "", account, &caller, &known)?;
    let recorded = record(&state, &context, report).await?;
    Ok((StatusCode::CREATED, Json(recorded)).into_response())
}

/// The answer to a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchRecorded {
    /// Each report, in the order sent.
    pub reports: Vec<Recorded>,
    /// The highest global position recorded, for `min_position`.
    pub position: i64,
}

/// Records many usage reports, all or none.
///
/// Every report is decided before any is recorded: one bad report refuses the
/// batch (422 with `field: reports[i]`).
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/usage-reports/batch",
    operation_id = "report_usage_batch",
    tag = "usage",
    params(AccountPath, CommandHeaders),
    request_body = BatchBody,
    responses((status = 201, response = UsageBatchRecorded), CommandErrors),
)]
async fn report_batch(
    State(state): State<AppState>,
    context: CommandContext,
    caller: Caller,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Response, ApiError> {
    let account: AccountId = path_param("account_id", &account_id)?;
    if !(1..=MAX_BATCH).contains(&body.reports.len()) {
        return Err(ApiError::bad_request(
            "reports",
            format!("1 to {MAX_BATCH} reports"),
        ));
    }
    let reported: Vec<&str> = body
        .reports
        .iter()
        .flat_map(|report| report.peaks.iter().map(|p| p.feature.as_str()))
        .collect();
    let known = held_features(&state.pool, account.0, &reported)
        .await
        .context("reading the features the account holds")?;
    let mut reports = Vec::with_capacity(body.reports.len());
    for (index, report) in body.reports.into_iter().enumerate() {
        reports.push(parse_report(
            report,
            &format!("reports[{index}]."),
            account,
            &caller,
            &known,
        )?);
    }
    // Every report is decided before any is recorded: a bad one refuses the batch.
    for (index, report) in reports.iter().enumerate() {
        let stream_id = UsageStreamId::of(account, &report.host, report.day);
        if let Err(error) = state
            .usage
            .check(&stream_id.to_string(), report.clone())
            .await
        {
            return Err(match ApiError::from(error) {
                ApiError::UsageRule { error, .. } => ApiError::UsageRule {
                    error,
                    field: Some(format!("reports[{index}]")),
                },
                other => other,
            });
        }
    }
    let mut recorded = Vec::with_capacity(reports.len());
    for (index, report) in reports.into_iter().enumerate() {
        let item = context.for_item(index.to_string());
        recorded.push(record(&state, &item, report).await?);
    }
    let position = recorded
        .iter()
        .map(|r| r.position)
        .max()
        .unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(BatchRecorded {
            reports: recorded,
            position,
        }),
    )
        .into_response())
}

/// Longest date range one query covers.
const MAX_RANGE_DAYS: i64 = 366;

fn overdraft_query(params: &QueryParams, account: AccountId) -> Result<OverdraftQuery, ApiError> {
    let date = |raw: &str| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| "a YYYY-MM-DD date".to_owned())
    };
    let to = params
        .get("to", date)?
        .unwrap_or_else(|| Utc::now().date_naive());
    let from = params
        .get("from", date)?
        .unwrap_or_else(|| to.checked_sub_days(Days::new(29)).unwrap_or(to));
    if from > to {
        return Err(ApiError::bad_request("query.to", "must not be before from"));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::bad_request(
            "query.from",
            format!("a range of at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let text = |raw: &str| {
        if (1..=253).contains(&raw.len()) {
            Ok(raw.to_owned())
        } else {
            Err("1 to 253 characters".to_owned())
        }
    };
    Ok(OverdraftQuery {
        account_id: account.0,
        from,
        to,
        host: params.get("host", text)?,
        feature: params.get("feature", text)?,
    })
}

/// Which days, servers and features a usage query covers.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageRange {
    /// First day; default 29 days before `to`. At most 366 days before `to`
    /// (a longer range is a 400).
    pub from: Option<NaiveDate>,
    /// Last day; default today (UTC). Not before `from` (else a 400).
    pub to: Option<NaiveDate>,
    /// One license server only.
    #[param(min_length = 1, max_length = 253)]
    pub host: Option<String>,
    /// One feature only.
    #[param(min_length = 1, max_length = 253)]
    pub feature: Option<String>,
}

/// A page of overdraft lines.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverdraftPaging {
    /// Lines per page.
    #[param(minimum = 1, maximum = 1000, default = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`, from this same query: any other value is
    /// a 400.
    pub cursor: Option<String>,
}

/// A page of overdraft lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdraftPage {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Lines by day, host and feature.
    pub items: Vec<OverdraftLine>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn line_cursor(line: &OverdraftLine) -> String {
    let key = (line.day, &line.host, &line.feature);
    // A tuple of a date and two strings always serializes.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).unwrap_or_default())
}

fn line_after(params: &QueryParams) -> Result<Option<LineKey>, ApiError> {
    params.get("cursor", |raw| {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<LineKey>(&bytes).ok())
            .filter(|(day, host, feature)| {
                crate::http::extract::date(&day.to_string()).is_ok()
                    && !host.contains(char::is_control)
                    && !feature.contains(char::is_control)
            })
            .ok_or_else(|| "not a cursor from this list's answer".to_owned())
    })
}

/// Overdraft per day, license server and feature.
///
/// `installed` is what was allocated there at the end of the day, `in_use` the
/// reported peak; `allowance_exceeded` lines are to be bought.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/usage/overdraft",
    operation_id = "get_overdraft",
    tag = "usage",
    params(AccountPath, UsageRange, OverdraftPaging, MinPosition),
    responses((status = 200, description = "A page of lines", body = OverdraftPage), QueryErrors),
)]
async fn overdraft(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<OverdraftPage>, ApiError> {
    params.only(&[
        "from",
        "to",
        "host",
        "feature",
        "limit",
        "cursor",
        "min_position",
    ])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let query = overdraft_query(&params, account)?;
    let limit = key_cursor::limit(&params, 200, 1_000)?;
    let after = line_after(&params)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let items = overdraft_lines(&state.pool, &query, state.allowance, after.as_ref(), limit)
        .await
        .context("reading the overdraft lines")?;
    let next_cursor = match items.last() {
        Some(last) if items.len() == limit as usize => Some(line_cursor(last)),
        _ => None,
    };
    Ok(Json(OverdraftPage {
        from: query.from,
        to: query.to,
        items,
        next_cursor,
    }))
}

/// Account-wide daily totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct Totals {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// One entry per day that has reports.
    pub days: Vec<DailyTotal>,
}

/// Account-wide usage totals per day.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/usage/daily-totals",
    operation_id = "get_daily_totals",
    tag = "usage",
    params(AccountPath, UsageRange, MinPosition),
    responses((status = 200, description = "One entry per day with reports", body = Totals), QueryErrors),
)]
async fn totals(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<Totals>, ApiError> {
    params.only(&["from", "to", "host", "feature", "min_position"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let query = overdraft_query(&params, account)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let days = daily_totals(&state.pool, &query, state.allowance)
        .await
        .context("reading the daily usage totals")?;
    Ok(Json(Totals {
        from: query.from,
        to: query.to,
        days,
    }))
}

/// Columns of the usage CSV, in order.
pub const CSV_COLUMNS: [&str; 8] = [
    "day",
    "host",
    "feature",
    "installed",
    "in_use",
    "overdraft",
    "allowance",
    "allowance_exceeded",
];

/// Lines fetched per round trip while exporting.
const EXPORT_PAGE: u32 = 5_000;

/// The overdraft lines as CSV, streamed a page at a time.
///
/// Columns: `day, host, feature, installed, in_use, overdraft, allowance,
/// allowance_exceeded`; RFC 4180, CRLF line ends, one header line.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/exports/usage.csv",
    operation_id = "export_usage_csv",
    tag = "exports",
    params(AccountPath, UsageRange, MinPosition),
    responses(
        (status = 200, description = "The CSV file (UTF-8)", body = String, content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"usage.csv\""))),
        QueryErrors,
    ),
)]
async fn export(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    params.only(&["from", "to", "host", "feature", "min_position"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let query = overdraft_query(&params, account)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let (pool, allowance) = (state.pool.clone(), state.allowance);
    // The state between pages: where the next starts, or `None` once done.
    let pages = futures::stream::unfold(Some(None), move |next: Option<Option<LineKey>>| {
        let (pool, query) = (pool.clone(), query.clone());
        async move {
            let after = next?;
            match overdraft_lines(&pool, &query, allowance, after.as_ref(), EXPORT_PAGE).await {
                Err(error) => Some((Err(error), None)),
                Ok(lines) => {
                    let text: String = lines.iter().map(usage_csv_line).collect();
                    let more = match lines.last() {
                        Some(last) if lines.len() == EXPORT_PAGE as usize => {
                            Some(Some((last.day, last.host.clone(), last.feature.clone())))
                        }
                        _ => None,
                    };
                    Some((Ok(text), more))
                }
            }
        }
    });
    Ok(crate::http::csv::download("usage.csv", &CSV_COLUMNS, pages))
}

fn usage_csv_line(line: &OverdraftLine) -> String {
    crate::http::csv::line([
        line.day.to_string(),
        line.host.clone(),
        line.feature.clone(),
        line.installed.to_string(),
        line.in_use.to_string(),
        line.overdraft.to_string(),
        line.allowance.to_string(),
        line.allowance_exceeded.to_string(),
    ])
}
