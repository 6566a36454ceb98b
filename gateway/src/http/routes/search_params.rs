//! Reading a license search from query parameters, each checked by name, and the
//! opaque cursor that continues one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::{BindingType, Edition, LicenseModel};
use ledger_projections::queries::search::{
    After, Filter, Find, FindBy, LicenseLine, LicenseSearch, SortKey, SortValue, TermKind,
};
use serde::de::{DeserializeOwned, IntoDeserializer as _};
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
    /// What `q` is matched against: both or neither (one alone is a 400).
    #[param(inline)]
    pub find_by: Option<FindBy>,
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
    pub term: Option<TermKind>,
    /// Purchased on or after this day.
    pub purchased_from: Option<NaiveDate>,
    /// Purchased on or before this day; not before `purchased_from` (else a 400).
    pub purchased_to: Option<NaiveDate>,
    /// Expiring on or after this day.
    pub expires_from: Option<NaiveDate>,
    /// Expiring on or before this day; not before `expires_from` (else a 400).
    pub expires_to: Option<NaiveDate>,
    /// The portal's filter; its schema says what each one finds.
    #[param(inline)]
    pub filter: Option<Filter>,
    /// The order (default `purchased_at`; perpetual licenses sort last by `expires_on`).
    #[param(inline)]
    pub sort: Option<SortKey>,
    /// Default `desc` for `purchased_at`, else `asc`.
    #[param(inline)]
    pub order: Option<OrderName>,
}

// The other enums of a search are the read side's own (`find_by`, `term`,
// `filter`, `sort`); the order is the gateway's, as the read side takes a bool.
/// Sort directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
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

/// Why a value is not one of an enum's names: `one of: <its names>`.
#[derive(Debug)]
struct NotOneOf(String);

impl std::fmt::Display for NotOneOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotOneOf {}

impl serde::de::Error for NotOneOf {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }

    // Serde hands over the enum's names: the refusal lists them as they are
    // documented, without a second copy of the list here.
    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Self(format!("one of: {}", expected.join(", ")))
    }
}

/// Reads one of the names of enum `T` (its serde names, which its schema lists).
fn one_of<T: DeserializeOwned>(raw: &str) -> Result<T, String> {
    T::deserialize(raw.into_deserializer()).map_err(|NotOneOf(refusal)| refusal)
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
    let by = params.get("find_by", one_of::<FindBy>)?;
    let find = match (by, text) {
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
        (Some(by), Some(text)) => Some(Find { by, text }),
    };
    let (purchased_from, purchased_to) = date_range(params, "purchased_from", "purchased_to")?;
    let (expires_from, expires_to) = date_range(params, "expires_from", "expires_to")?;
    let sort = params
        .get("sort", one_of::<SortKey>)?
        .unwrap_or(SortKey::PurchasedAt);
    let descending = params
        .get("order", one_of::<OrderName>)?
        .map_or(sort == SortKey::PurchasedAt, |order| {
            order == OrderName::Desc
        });
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
        term: params.get("term", one_of::<TermKind>)?,
        purchased_from,
        purchased_to,
        expires_from,
        expires_to,
        filter: params.get("filter", one_of::<Filter>)?,
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
    /// Sort key, by its name.
    s: SortKey,
    /// Descending.
    d: bool,
    /// The last line's sort value, as text.
    v: String,
    /// The last line's license id.
    id: Uuid,
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
        s: search.sort,
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
        if data.s != search.sort || data.d != search.descending {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_by_their_documented_names_and_others_refused_listing_them() {
        assert_eq!(one_of::<Filter>("active"), Ok(Filter::Active));
        assert_eq!(one_of::<FindBy>("server_host"), Ok(FindBy::ServerHost));
        assert_eq!(one_of::<SortKey>("expires_on"), Ok(SortKey::ExpiresOn));
        assert_eq!(one_of::<TermKind>("perpetual"), Ok(TermKind::Perpetual));
        assert_eq!(one_of::<OrderName>("desc"), Ok(OrderName::Desc));
        // The refusal the API has always given, now from the enum's own names.
        assert_eq!(
            one_of::<Filter>("shiny"),
            Err("one of: new, expiring, expired, available, trial, hidden, active".to_owned())
        );
        assert_eq!(
            one_of::<FindBy>("Product"),
            Err("one of: product, feature, order_number, access_code, server_host".to_owned())
        );
        assert_eq!(
            one_of::<SortKey>(""),
            Err("one of: purchased_at, expires_on, order_number, product, quantity".to_owned())
        );
        assert_eq!(
            one_of::<OrderName>("up"),
            Err("one of: asc, desc".to_owned())
        );
    }
}
