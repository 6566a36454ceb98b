//! The transparency log over HTTP (DESIGN.md decision 8): its signed checkpoints,
//! consistency proofs between two of its sizes, and inclusion proofs of an
//! account's events, each checkable offline with only the checkpoint key's public
//! half (`ledger verify checkpoint|inclusion|consistency`).
//!
//! Witnesses hand in their cosignatures, which are served beside the checkpoint.
//! The checkpoints and consistency proofs are public, as a transparency log's are:
//! they hold tree sizes and hashes only, and witnesses without an account read
//! them. An inclusion proof names an event of an account, so it needs that
//! account's history permission; another account's events appear in it only as
//! hashes.

use std::collections::HashMap;

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ledger_domain::transparency::merkle::{self, NodeId};
use ledger_domain::transparency::note::{verify_cosignature, SignedNote, VerifierKey};
use ledger_domain::AccountId;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, ApiJson, QueryParams};
use crate::http::openapi::{AccountPath, CosignatureErrors, HistoryErrors, ReplayErrors};
use crate::http::routes::ndjson;
use crate::integrity::checkpoint::canonical::hex;
use crate::integrity::checkpoint::store::{self as checkpoints, AnyCheckpoint};
use crate::integrity::checkpoint::tree_head::TreeHead;
use crate::integrity::tree::{self, proof::ProofError};
use crate::write::event_store::CommitPosition;

/// Most checkpoints a page lists.
const MAX_CHECKPOINTS: i64 = 1_000;
/// Proofs an NDJSON answer makes from one read of the store.
const PROOF_BATCH: i64 = 1_000;

/// The transparency-log routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(log_keys))
        .routes(routes!(newest_checkpoint))
        .routes(routes!(add_cosignature))
        .routes(routes!(list_checkpoints))
        .routes(routes!(consistency_proof))
        .routes(routes!(inclusion_proof))
        .routes(routes!(inclusion_proofs))
}

/// A key that signs (or signed) the log's checkpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogKey {
    /// Its id in `checkpoint_signing_keys`, as checkpoints name it.
    pub key_id: String,
    /// Its C2SP verifier key, `<origin>+<key id hex>+<base64>`: what
    /// `ledger verify … --key` and other transparency-log tools take.
    pub vkey: String,
    /// From when it signs.
    pub active_from: DateTime<Utc>,
}

/// The log's public keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogKeys {
    /// The log's name, every checkpoint's first line.
    pub origin: String,
    /// Every configured checkpoint key, retired ones included.
    pub keys: Vec<LogKey>,
}

/// The keys that verify the log's checkpoints. An auditor should hold the key from
/// the operator too, not only from here: a log that lies could lie about its key.
#[utoipa::path(
    get,
    path = "/v1/log/keys",
    operation_id = "list_log_keys",
    tag = "transparency",
    responses((status = 200, description = "The keys", body = LogKeys), ReplayErrors),
)]
async fn log_keys(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<Json<LogKeys>, ApiError> {
    params.only(&[])?;
    let origin = state.checkpoint_origin.clone();
    let keys = state
        .checkpoint_keys
        .keys()
        .iter()
        .map(|key| {
            let vkey = VerifierKey::ed25519(&origin, key.public_key_bytes()).map_err(|error| {
                ApiError::Internal(anyhow::anyhow!("checkpoint_origin: {error}"))
            })?;
            Ok(LogKey {
                key_id: key.key_id().to_owned(),
                vkey: vkey.format(),
                active_from: key.active_from(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(LogKeys { origin, keys }))
}

/// The tree heads stored, oldest first (version 1 checkpoints are left out: they
/// sign no tree).
async fn tree_heads(connection: &mut PgConnection) -> Result<Vec<TreeHead>, ApiError> {
    let stored = checkpoints::checkpoints(connection, false)
        .await
        .context("reading the stored checkpoints")?;
    Ok(stored
        .iter()
        .filter_map(|stored| match stored.parse() {
            Ok(AnyCheckpoint::Tree(head)) => Some(head),
            _ => None,
        })
        .collect())
}

/// The newest checkpoint, as a C2SP signed note.
///
/// The text transparency-log tools read (`text/plain`): the log's origin, size and
/// root, then the signature lines. Verify it with `ledger verify checkpoint`.
#[utoipa::path(
    get,
    path = "/v1/log/checkpoint",
    operation_id = "get_newest_checkpoint",
    tag = "transparency",
    responses(
        (status = 200, description = "The signed note", body = String, content_type = "text/plain"),
        HistoryErrors,
    ),
)]
async fn newest_checkpoint(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let mut connection = state
        .pool
        .acquire()
        .await
        .context("acquiring a connection for the newest checkpoint")?;
    let head = tree_heads(&mut connection)
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been written yet".into()))?;
    let lines: Vec<String> = sqlx::query_scalar(
        "SELECT line FROM transparency_cosignatures WHERE tree_size = $1 ORDER BY witness",
    )
    .bind(i64::try_from(head.tree_size).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await
    .context("reading the checkpoint's cosignatures")?;
    let mut note = head.note;
    for line in lines {
        note.push_str(&line);
    }
    let mut response = note.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// A witness's cosignature of a checkpoint.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CosignatureBody {
    /// The size of the checkpoint it cosigns.
    pub tree_size: u64,
    /// Its `cosignature/v1` signature line, `— <witness name> <base64>` and a line
    /// feed. It must verify, with a configured witness key (`checkpoint_witness_keys`),
    /// over that checkpoint: else a 400, which no schema can foresee.
    #[schema(max_length = 1024, pattern = "^— [!-~]+ [A-Za-z0-9+/]+={0,2}\\n?$")]
    pub cosignature: String,
}

/// What was kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct CosignatureKept {
    /// The checkpoint's size.
    pub tree_size: u64,
    /// The witness.
    pub witness: String,
    /// When the witness says it cosigned (Unix seconds).
    pub timestamp: u64,
}

/// A witness hands in its cosignature of a checkpoint; it is kept, and served
/// beside the checkpoint (`GET /v1/log/checkpoint`), only when it verifies with a
/// configured witness key (`checkpoint_witness_keys`) over a checkpoint the log
/// signed. The signature is its own authentication: no token.
#[utoipa::path(
    post,
    path = "/v1/log/cosignatures",
    operation_id = "add_cosignature",
    tag = "transparency",
    request_body = CosignatureBody,
    responses((status = 201, description = "Kept", body = CosignatureKept), CosignatureErrors),
)]
async fn add_cosignature(
    State(state): State<AppState>,
    params: QueryParams,
    ApiJson(body): ApiJson<CosignatureBody>,
) -> Result<(axum::http::StatusCode, Json<CosignatureKept>), ApiError> {
    params.only(&[])?;
    let mut connection = state
        .pool
        .acquire()
        .await
        .context("acquiring a connection to keep a cosignature")?;
    let head = tree_heads(&mut connection)
        .await?
        .into_iter()
        .rev()
        .find(|head| head.tree_size == body.tree_size)
        .ok_or_else(|| ApiError::NotFound(format!("no checkpoint of {} events", body.tree_size)))?;
    let bad = |detail: String| ApiError::bad_request("cosignature", detail);
    let line = if body.cosignature.ends_with('\n') {
        body.cosignature.clone()
    } else {
        format!("{}\n", body.cosignature)
    };
    if line.len() > 1_024 || line.matches('\n').count() != 1 {
        return Err(bad("one signature line of at most 1 KiB".into()));
    }
    let signed = SignedNote::parse(&format!("{}{line}", head.note))
        .map_err(|error| bad(format!("not a signature line: {error}")))?;
    let signature = signed
        .signatures
        .last()
        .ok_or_else(|| bad("not a signature line".into()))?;
    let key = state
        .witness_keys
        .iter()
        .find(|key| key.name() == signature.name && key.key_hash() == signature.key_hash)
        .ok_or_else(|| {
            bad(format!(
                "`{}` is not a configured witness key",
                signature.name
            ))
        })?;
    let timestamp = verify_cosignature(&signed.text, signature, key.name(), key.public_key())
        .map_err(|error| bad(format!("does not verify: {error}")))?;
    sqlx::query(
        "INSERT INTO transparency_cosignatures (tree_size, witness, line) VALUES ($1, $2, $3)
         ON CONFLICT (tree_size, witness) DO UPDATE SET line = EXCLUDED.line, received_at = now()",
    )
    .bind(i64::try_from(head.tree_size).unwrap_or(i64::MAX))
    .bind(key.name())
    .bind(&line)
    .execute(&mut *connection)
    .await
    .context("keeping the cosignature")?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(CosignatureKept {
            tree_size: head.tree_size,
            witness: key.name().to_owned(),
            timestamp,
        }),
    ))
}

/// A page of checkpoints.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointPaging {
    /// Checkpoints after this number (0: from the first).
    #[param(minimum = 0, default = 0)]
    pub after: Option<i64>,
    /// Checkpoints per page.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<i64>,
}

/// The checkpoints, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointList {
    /// Signed tree heads, as stored and published.
    pub checkpoints: Vec<TreeHead>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

/// Every signed tree head, oldest first: an auditor keeps one and later asks for a
/// consistency proof from its size.
#[utoipa::path(
    get,
    path = "/v1/log/checkpoints",
    operation_id = "list_checkpoints",
    tag = "transparency",
    params(CheckpointPaging),
    responses((status = 200, description = "The checkpoints", body = CheckpointList), ReplayErrors),
)]
async fn list_checkpoints(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<Json<CheckpointList>, ApiError> {
    params.only(&["after", "limit"])?;
    let after = params
        .get("after", |raw| whole(raw, 0, i64::MAX))?
        .unwrap_or(0);
    let limit = params
        .get("limit", |raw| whole(raw, 1, MAX_CHECKPOINTS))?
        .unwrap_or(100);
    let mut connection = state
        .pool
        .acquire()
        .await
        .context("acquiring a connection to list the checkpoints")?;
    let mut heads: Vec<TreeHead> = tree_heads(&mut connection)
        .await?
        .into_iter()
        .filter(|head| head.checkpoint > after)
        .collect();
    let more = heads.len() as i64 > limit;
    heads.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Json(CheckpointList {
        next_after: more.then(|| heads.last().map_or(after, |h| h.checkpoint)),
        checkpoints: heads,
    }))
}

fn whole(raw: &str, min: i64, max: i64) -> Result<i64, String> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("a whole number from {min} to {max}"))
}

/// Two sizes of the log.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencySizes {
    /// The smaller size, e.g. a checkpoint's you kept; at most `to` (else a 400).
    #[param(minimum = 1)]
    pub from: u64,
    /// The larger size, at most the newest checkpoint's (else a 400).
    #[param(minimum = 1)]
    pub to: u64,
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyAnswer {
    /// The smaller size.
    pub from: u64,
    /// The larger size.
    pub to: u64,
    /// The proof's hashes, base64, in RFC order.
    pub hashes: Vec<String>,
}

/// Proof that the log of `to` events extends the log of `from`: nothing signed at
/// `from` was changed or removed. Both sizes must be signed by checkpoints for the
/// proof to mean anything to a verifier; `to` may be at most the newest's.
#[utoipa::path(
    get,
    path = "/v1/log/consistency-proof",
    operation_id = "get_consistency_proof",
    tag = "transparency",
    params(ConsistencySizes),
    responses((status = 200, description = "The proof", body = ConsistencyAnswer), ReplayErrors),
)]
async fn consistency_proof(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<Json<ConsistencyAnswer>, ApiError> {
    params.only(&["from", "to"])?;
    let mut connection = state
        .pool
        .acquire()
        .await
        .context("acquiring a connection for a consistency proof")?;
    let newest = newest_size(&mut connection).await?;
    let size = |raw: &str| {
        raw.parse::<u64>()
            .ok()
            .filter(|n| (1..=newest).contains(n))
            .ok_or_else(|| format!("a log size from 1 to the newest checkpoint's ({newest})"))
    };
    let from = params.require("from", size)?;
    let to = params.require("to", size)?;
    if from > to {
        return Err(ApiError::bad_request(
            "query.from",
            "must not be more than `to`",
        ));
    }
    let hashes = tree::proof::consistency(&mut connection, from, to)
        .await
        .map_err(proof_error)?;
    Ok(Json(ConsistencyAnswer {
        from,
        to,
        hashes: hashes.iter().map(|h| BASE64.encode(h)).collect(),
    }))
}

/// The newest checkpoint's size: proofs are made against signed sizes only.
async fn newest_size(connection: &mut PgConnection) -> Result<u64, ApiError> {
    Ok(tree_heads(connection)
        .await?
        .last()
        .map_or(0, |head| head.tree_size))
}

fn proof_error(error: ProofError) -> ApiError {
    match error {
        ProofError::Store(error) => {
            ApiError::Internal(anyhow::Error::new(error).context("reading the log for a proof"))
        }
        // The sizes were checked against the stored tree: a node missing now means
        // its rows were removed, which verifying the history reports.
        ProofError::Asked(error) => ApiError::Internal(anyhow::anyhow!(
            "the transparency log cannot make a proof: {error}"
        )),
    }
}

/// Which event, and against which size.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The event's global position; or give `aggregate_type`, `aggregate_id` and
    /// `sequence` instead (one way or the other, all of it: else a 400).
    #[param(minimum = 1)]
    pub global_position: Option<i64>,
    /// The event's stream type: `License` or `ServerUsage`.
    pub aggregate_type: Option<String>,
    /// The event's stream.
    pub aggregate_id: Option<String>,
    /// The event's sequence in its stream.
    #[param(minimum = 1)]
    pub sequence: Option<i64>,
    /// The log's size to prove against: a checkpoint's (default: the newest's);
    /// any other size is a 400.
    #[param(minimum = 1)]
    pub tree_size: Option<u64>,
}

/// An inclusion proof (RFC 9162 §2.1.3) of one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionAnswer {
    /// The event's global position.
    pub global_position: i64,
    /// Its stream type.
    pub aggregate_type: String,
    /// Its stream.
    pub aggregate_id: String,
    /// Its sequence in its stream.
    pub sequence: i64,
    /// Its stored content hash (hex): the leaf's data, as in the event export.
    pub event_hash: String,
    /// Its place in the log, from 0.
    pub leaf_index: u64,
    /// The log's size the proof is against.
    pub tree_size: u64,
    /// The proof's hashes, base64, in RFC order.
    pub hashes: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct ProvenEvent {
    global_position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    hash: Vec<u8>,
    leaf_index: i64,
    transaction_id: i64,
}

const PROVEN_COLUMNS: &str = "e.global_position, e.aggregate_type, e.aggregate_id, e.sequence,
    e.hash, l.leaf_index, e.transaction_id::text::bigint AS transaction_id";

/// Proof that one of the account's events is in the log at a checkpoint's size.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/inclusion-proof",
    operation_id = "get_inclusion_proof",
    tag = "transparency",
    params(AccountPath, InclusionQuery),
    responses((status = 200, description = "The proof", body = InclusionAnswer), HistoryErrors),
)]
async fn inclusion_proof(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<InclusionAnswer>, ApiError> {
    params.only(&[
        "global_position",
        "aggregate_type",
        "aggregate_id",
        "sequence",
        "tree_size",
    ])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let mut connection = state
        .pool
        .acquire()
        .await
        .context("acquiring a connection for an inclusion proof")?;
    let tree_size = proof_size(&params, &mut connection).await?;
    let by_position = params.get("global_position", |raw| {
        whole(raw, 1, i64::MAX).map_err(|_| "a global position: a whole number from 1".to_owned())
    })?;
    let text = |name: &str| params.get(name, |raw| Ok::<_, String>(raw.to_owned()));
    let stream = (
        text("aggregate_type")?,
        text("aggregate_id")?,
        params.get("sequence", |raw| whole(raw, 1, i64::MAX))?,
    );
    let account_text = account.0.to_string();
    let found: Option<ProvenEvent> =
        match (by_position, stream) {
            (Some(position), (None, None, None)) => sqlx::query_as(&format!(
                "SELECT {PROVEN_COLUMNS} FROM public.events e
                   JOIN transparency_leaves l ON l.global_position = e.global_position
                  WHERE e.global_position = $1 AND e.metadata->>'account_id' = $2"
            ))
            .bind(position)
            .bind(&account_text)
            .fetch_optional(&mut *connection)
            .await
            .context("finding the event at global_position")?,
            (None, (Some(kind), Some(id), Some(sequence))) => sqlx::query_as(&format!(
                "SELECT {PROVEN_COLUMNS} FROM public.events e
                   JOIN transparency_leaves l ON l.global_position = e.global_position
                  WHERE e.aggregate_type = $1 AND e.aggregate_id = $2 AND e.sequence = $3
                    AND e.metadata->>'account_id' = $4"
            ))
            .bind(kind)
            .bind(id)
            .bind(sequence)
            .bind(&account_text)
            .fetch_optional(&mut *connection)
            .await
            .context("finding the event by stream and sequence")?,
            _ => return Err(ApiError::bad_request(
                "query.global_position",
                "give either `global_position`, or `aggregate_type`, `aggregate_id` and `sequence`",
            )),
        };
    let event = found
        .filter(|event| u64::try_from(event.leaf_index).is_ok_and(|leaf| leaf < tree_size))
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no event of this account is among the first {tree_size} of the log"
            ))
        })?;
    let mut proven = prove(&mut connection, vec![event], tree_size).await?;
    proven
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a proof went missing")))
}

/// The `tree_size` asked for, or the newest checkpoint's; it must be one a
/// checkpoint signed, so the proof can be checked against a signature.
async fn proof_size(params: &QueryParams, connection: &mut PgConnection) -> Result<u64, ApiError> {
    let heads = tree_heads(connection).await?;
    let newest = heads.last().map(|head| head.tree_size).ok_or_else(|| {
        ApiError::NotFound("no checkpoint has been written yet: nothing to prove against".into())
    })?;
    let asked = params.get("tree_size", |raw| {
        raw.parse::<u64>()
            .ok()
            .filter(|size| heads.iter().any(|head| head.tree_size == *size))
            .ok_or_else(|| "the tree_size of a checkpoint (see /v1/log/checkpoints)".to_owned())
    })?;
    Ok(asked.unwrap_or(newest))
}

/// The commit position of the log's last event at `tree_size` (leaf `tree_size - 1`).
async fn last_leaf(
    connection: &mut PgConnection,
    tree_size: u64,
) -> Result<CommitPosition, ApiError> {
    let leaf = i64::try_from(tree_size).unwrap_or(i64::MAX) - 1;
    let found: Option<(i64, i64)> = sqlx::query_as(
        "SELECT e.transaction_id::text::bigint, e.global_position
           FROM transparency_leaves l
           JOIN public.events e ON e.global_position = l.global_position
          WHERE l.leaf_index = $1",
    )
    .bind(leaf)
    .fetch_optional(&mut *connection)
    .await
    .context("reading the checkpoint's last leaf")?;
    // A checkpoint signed this size: its last leaf missing means rows were removed,
    // which verifying the history reports.
    let (transaction_id, global_position) = found.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "the transparency log has no leaf {leaf} for its checkpoint of {tree_size}"
        ))
    })?;
    Ok(CommitPosition {
        transaction_id,
        global_position,
    })
}

/// Proofs of `events` (at most a batch) against `tree_size`, their nodes read in
/// one query.
async fn prove(
    connection: &mut PgConnection,
    events: Vec<ProvenEvent>,
    tree_size: u64,
) -> Result<Vec<InclusionAnswer>, ApiError> {
    let mut parts = Vec::with_capacity(events.len());
    for event in &events {
        let leaf = u64::try_from(event.leaf_index).unwrap_or(u64::MAX);
        parts.push(
            merkle::inclusion_parts(leaf, tree_size)
                .map_err(ProofError::from)
                .map_err(proof_error)?,
        );
    }
    let wanted: Vec<NodeId> = merkle::needed(&parts.concat());
    let found: HashMap<NodeId, merkle::Hash> = tree::store::nodes(connection, &wanted)
        .await
        .context("reading the tree nodes of the proofs")?
        .into_iter()
        .collect();
    events
        .into_iter()
        .zip(parts)
        .map(|(event, parts)| {
            let hashes = merkle::assemble(&parts, |id| found.get(&id).copied())
                .map_err(ProofError::from)
                .map_err(proof_error)?;
            Ok(InclusionAnswer {
                global_position: event.global_position,
                aggregate_type: event.aggregate_type,
                aggregate_id: event.aggregate_id,
                sequence: event.sequence,
                event_hash: hex(&event.hash),
                leaf_index: u64::try_from(event.leaf_index).unwrap_or_default(),
                tree_size,
                hashes: hashes.iter().map(|h| BASE64.encode(h)).collect(),
            })
        })
        .collect()
}

/// Against which size.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionSize {
    /// The log's size to prove against: a checkpoint's (default: the newest's);
    /// any other size is a 400.
    #[param(minimum = 1)]
    pub tree_size: Option<u64>,
}

/// Proofs that every one of the account's events in the log at a checkpoint's
/// size is there: one JSON object a line (as `inclusion-proof` answers), in log
/// order. With the event export and the checkpoint, `ledger verify inclusion`
/// checks them all offline.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/inclusion-proofs.ndjson",
    operation_id = "export_inclusion_proofs",
    tag = "transparency",
    params(AccountPath, InclusionSize),
    responses(
        (status = 200, description = "One proof a line", body = InclusionAnswer,
            content_type = "application/x-ndjson"),
        HistoryErrors,
    ),
)]
async fn inclusion_proofs(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    params.only(&["tree_size"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let (tree_size, last) = {
        let mut connection = state
            .pool
            .acquire()
            .await
            .context("acquiring a connection for the inclusion proofs")?;
        let tree_size = proof_size(&params, &mut connection).await?;
        (tree_size, last_leaf(&mut connection, tree_size).await?)
    };
    let pool = state.pool.clone();
    let account = account.0.to_string();
    // The account's events are read in commit order through its own index
    // (`events_account_commit_order`, as the event export reads them), which is the
    // log's order: leaf i is the i-th event in commit order. So each read touches
    // only the account's next events, up to the last one the checkpoint covers.
    // Paging by leaf index instead walked the leaves of every account from the
    // cursor on each read (before the tables had statistics: to the log's end, and
    // sorted them), so its cost grew with the whole log rather than the account:
    // 20,000 proofs of one account among 220,000 events took 40 ms of query a page
    // (5 ms now), 5.5 s in all without statistics (2.0 s now).
    // The state between reads: where the next starts, or `None` once done.
    let lines = futures::stream::unfold(Some(CommitPosition::default()), move |after| {
        let (pool, account) = (pool.clone(), account.clone());
        async move {
            let after = after?;
            let read = async {
                let mut connection = pool
                    .acquire()
                    .await
                    .context("acquiring a connection for the next inclusion proofs")?;
                let events: Vec<ProvenEvent> = sqlx::query_as(&format!(
                    "SELECT {PROVEN_COLUMNS} FROM public.events e
                       JOIN transparency_leaves l ON l.global_position = e.global_position
                      WHERE e.metadata->>'account_id' = $1
                        AND (e.transaction_id, e.global_position) > ($2::text::xid8, $3)
                        AND (e.transaction_id, e.global_position) <= ($4::text::xid8, $5)
                        AND l.leaf_index < $6
                      ORDER BY e.transaction_id, e.global_position
                      LIMIT $7"
                ))
                .bind(&account)
                .bind(after.transaction_id.to_string())
                .bind(after.global_position)
                .bind(last.transaction_id.to_string())
                .bind(last.global_position)
                .bind(i64::try_from(tree_size).unwrap_or(i64::MAX))
                .bind(PROOF_BATCH)
                .fetch_all(&mut *connection)
                .await
                .context("reading the next events to prove")?;
                let next = (events.len() as i64 == PROOF_BATCH)
                    .then(|| {
                        events.last().map(|e| CommitPosition {
                            transaction_id: e.transaction_id,
                            global_position: e.global_position,
                        })
                    })
                    .flatten();
                let proofs = prove(&mut connection, events, tree_size).await?;
                Ok::<_, ApiError>((proofs, next))
            };
            match read.await {
                Err(error) => Some((Err(error), None)),
                Ok((proofs, next)) => {
                    let text: String = proofs.iter().map(ndjson::line).collect();
                    Some((Ok(text), next))
                }
            }
        }
    });
    Ok(ndjson::response(lines, "inclusion proofs"))
}
