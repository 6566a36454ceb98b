//! Reading a license search from query parameters, each checked by name, and the
//! opaque cursor that continues one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::{BindingType, Edition, LicenseModel};
use ledger_projections::queries::search::{
    After, Filter, FindBy, LicenseLine, LicenseSearch, SortKey, SortValue, TermKind,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extract::QueryParams;
use crate::http::openapi::{BindingTypeName, EditionCode, LicenseModelName};

/// Parameters a license search accepts (besides `as_of`, [`crate::http::openapi::AsOf`]).
pub const SEARCH_PARAMS: [&str; 14] = [
    "find_by",
    "q",
    "edition",
    "license_model",
    "binding_type",
    "term",
    "purchased_from",
    "purchased_to",
    "expires_from",
    "expires_to",
    "filter",
    "sort",
    "order",
    "as_of",
];

/// The search parameters as documented: all optional, combined with AND. An unknown
/// parameter, a bad value, or a `*_to` before its `*_from` is a 400 naming it.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What `q` is matched against (both or neither).
    #[param(inline)]
    pub find_by: Option<FindByName>,
    /// The text to find: exact for `product`, `feature` and `server_host`, a prefix
    /// for `order_number` and `access_code`.
    #[param(min_length = 1, max_length = 128)]
    pub q: Option<String>,
    /// This edition only.
    #[param(inline)]
    pub edition: Option<EditionCode>,
    /// This license model only.
    #[param(inline)]
    pub license_model: Option<LicenseModelName>,
    /// This binding type only.
    #[param(inline)]
    pub binding_type: Option<BindingTypeName>,
    /// Term or perpetual licenses only.
    #[param(inline)]
    pub term: Option<TermName>,
    /// Purchased on or after this day.
    pub purchased_from: Option<NaiveDate>,
    /// Purchased on or before this day.
    pub purchased_to: Option<NaiveDate>,
    /// Expiring on or after this day.
    pub expires_from: Option<NaiveDate>,
    /// Expiring on or before this day.
    pub expires_to: Option<NaiveDate>,
    /// The portal's filter. Every filter but `hidden` leaves hidden licenses out; with
    /// none, every license that is not hidden.
    #[param(inline)]
    pub filter: Option<FilterName>,
    /// The order (default `purchased_at`; perpetual licenses sort last by `expires_on`).
    #[param(inline)]
    pub sort: Option<SortName>,
    /// Default `desc` for `purchased_at`, else `asc`.
    #[param(inline)]
    pub order: Option<OrderName>,
}

/// What a search's `q` is matched against.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindByName {
    /// Product code, exact.
    Product,
    /// Feature name, exact.
    Feature,
    /// Order number prefix.
    OrderNumber,
    /// Access code prefix.
    AccessCode,
    /// A live allocation on this host (exact, case-sensitive).
    ServerHost,
}

/// Term or perpetual.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TermName {
    /// With an expiry date.
    Term,
    /// Without one.
    Perpetual,
}

/// The portal's filters.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterName {
    /// Purchased in the 30 days before `as_of`.
    New,
    /// 0–90 days left.
    Expiring,
    /// Past its expiry day.
    Expired,
    /// Activated, not expired, seats left.
    Available,
    /// Trial licenses.
    Trial,
    /// Hidden licenses.
    Hidden,
    /// Not expired.
    Active,
}

/// Sort keys.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortName {
    /// Purchase instant.
    PurchasedAt,
    /// Expiry day.
    ExpiresOn,
    /// Order number.
    OrderNumber,
    /// Product code.
    Product,
    /// Seats purchased.
    Quantity,
}

/// Sort directions.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderName {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// Most lines a page may hold.
pub const MAX_LIMIT: u32 = 500;
/// Lines per page when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 50;

use crate::http::extract::date;

fn one_of<T: Copy>(raw: &str, options: &[(&str, T)]) -> Result<T, String> {
    options
        .iter()
        .find(|(name, _)| *name == raw)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            format!("one of: {}", names.join(", "))
        })
}

fn date_range(
    params: &QueryParams,
    from: &str,
    to: &str,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let (start, end) = (params.get(from, date)?, params.get(to, date)?);
    if let (Some(start), Some(end)) = (start, end) {
        if start > end {
            return Err(ApiError::bad_request(
                format!("query.{to}"),
                format!("must not be before {from}"),
            ));
        }
    }
    Ok((start, end))
}

/// Reads a search of `account_id` as of `as_of` from the query string.
pub fn search(
    params: &QueryParams,
    account_id: Uuid,
    as_of: DateTime<Utc>,
) -> Result<LicenseSearch, ApiError> {
    let text = params.get("q", |raw| {
        if (1..=128).contains(&raw.chars().count()) && !raw.chars().any(char::is_control) {
            Ok(raw.to_owned())
        } else {
            Err("1 to 128 characters, no control characters".to_owned())
        }
    })?;
    let kind = params.get("find_by", |raw| {
        one_of(
            raw,
            &[
                ("product", 0),
                ("feature", 1),
                ("order_number", 2),
                ("access_code", 3),
                ("server_host", 4),
            ],
        )
    })?;
    let find = match (kind, text) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "query.q",
                "the text to find is missing",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "query.find_by",
                "say what to find by",
            ))
        }
        (Some(kind), Some(text)) => Some(match kind {
            0 => FindBy::Product(text),
            1 => FindBy::Feature(text),
            2 => FindBy::OrderNumber(text),
            3 => FindBy::AccessCode(text),
            _ => FindBy::ServerHost(text),
        }),
    };
    let (purchased_from, purchased_to) = date_range(params, "purchased_from", "purchased_to")?;
    let (expires_from, expires_to) = date_range(params, "expires_from", "expires_to")?;
    let sort = params
        .get("sort", |raw| {
            one_of(
                raw,
                &[
                    ("purchased_at", SortKey::PurchasedAt),
                    ("expires_on", SortKey::ExpiresOn),
                    ("order_number", SortKey::OrderNumber),
                    ("product", SortKey::Product),
                    ("quantity", SortKey::Quantity),
                ],
            )
        })?
        .unwrap_or(SortKey::PurchasedAt);
    let descending = params
        .get("order", |raw| {
            one_of(raw, &[("asc", false), ("desc", true)])
        })?
        .unwrap_or(sort == SortKey::PurchasedAt);
    Ok(LicenseSearch {
        account_id,
        as_of,
        find,
        edition: params
            .get("edition", |raw| {
                Edition::parse(raw).map_err(|e| e.to_string())
            })?
            .map(|edition| edition.code().to_owned()),
        license_model: params
            .get("license_model", |raw| {
                LicenseModel::parse(raw).map_err(|e| e.to_string())
            })?
            .map(|model| model.as_str().to_owned()),
        binding_type: params
            .get("binding_type", |raw| {
                BindingType::parse(raw).map_err(|e| e.to_string())
            })?
            .map(|binding| binding.as_str().to_owned()),
        term: params.get("term", |raw| {
            one_of(
                raw,
                &[("term", TermKind::Term), ("perpetual", TermKind::Perpetual)],
            )
        })?,
        purchased_from,
        purchased_to,
        expires_from,
        expires_to,
        filter: params.get("filter", |raw| {
            one_of(
                raw,
                &[
                    ("new", Filter::New),
                    ("expiring", Filter::Expiring),
                    ("expired", Filter::Expired),
                    ("available", Filter::Available),
                    ("trial", Filter::Trial),
                    ("hidden", Filter::Hidden),
                    ("active", Filter::Active),
                ],
            )
        })?,
        sort,
        descending,
    })
}

/// Reads `limit` (1 to 500, default 50).
pub fn limit(params: &QueryParams) -> Result<u32, ApiError> {
    crate::http::routes::key_cursor::limit(params, DEFAULT_LIMIT, MAX_LIMIT)
}

/// What a cursor carries: the search's order and where the last page ended.
#[derive(Debug, Serialize, Deserialize)]
struct CursorData {
    /// Sort key name.
    s: String,
    /// Descending.
    d: bool,
    /// The last line's sort value, as text.
    v: String,
    /// The last line's license id.
    id: Uuid,
}

fn sort_name(key: SortKey) -> &'static str {
    match key {
        SortKey::PurchasedAt => "purchased_at",
        SortKey::ExpiresOn => "expires_on",
        SortKey::OrderNumber => "order_number",
        SortKey::Product => "product",
        SortKey::Quantity => "quantity",
    }
}

/// The cursor continuing `search` after `last`.
pub fn cursor_after(search: &LicenseSearch, last: &LicenseLine) -> String {
    let value = match last.sort_value(search.sort) {
        SortValue::Instant(instant) => instant.to_rfc3339(),
        SortValue::Date(date) => date.to_string(),
        SortValue::Text(text) => text,
        SortValue::Number(number) => number.to_string(),
    };
    let data = CursorData {
        s: sort_name(search.sort).to_owned(),
        d: search.descending,
        v: value,
        id: last.license.license_id,
    };
    // Serializing a struct of strings, a bool and a UUID cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).unwrap_or_default())
}

/// Reads `cursor`, which must come from a search with the same order.
pub fn after(params: &QueryParams, search: &LicenseSearch) -> Result<Option<After>, ApiError> {
    params.get("cursor", |raw| {
        let invalid = || "not a cursor from this search's answer".to_owned();
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if data.s != sort_name(search.sort) || data.d != search.descending {
            return Err("made for another sort order".to_owned());
        }
        let value = match search.sort {
            SortKey::PurchasedAt => SortValue::Instant(
                DateTime::parse_from_rfc3339(&data.v)
                    .map_err(|_| invalid())?
                    .with_timezone(&Utc),
            ),
            SortKey::ExpiresOn => SortValue::Date(date(&data.v).map_err(|_| invalid())?),
            SortKey::OrderNumber | SortKey::Product => {
                SortValue::Text(crate::http::extract::plain_text(data.v).ok_or_else(invalid)?)
            }
            SortKey::Quantity => SortValue::Number(data.v.parse().map_err(|_| invalid())?),
        };
        Ok(After {
            value,
            license_id: data.id,
        })
    })
}
