//! "Find a license by…": search, the portal's filters, sorting and keyset
//! pagination over one account's licenses. Every value is bound, never spliced
//! into SQL; sort columns come from a closed enum.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::facts::LicenseFacts;
use super::time::Window;

// The enums below are the search's query parameters as the HTTP API takes and
// documents them (serde names, OpenAPI schemas): one list of values, here.

/// What a search's `q` is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindBy {
    /// Product code, exactly.
    Product,
    /// Feature name, exactly (`XDT_ENT_UD`).
    Feature,
    /// Order number, by prefix.
    OrderNumber,
    /// License access code, by prefix.
    AccessCode,
    /// A license server with a live allocation of the license, exactly (host ids are
    /// case-sensitive).
    ServerHost,
}

/// "Find a license by": the text to find and what it is matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Find {
    /// What the text is matched against.
    pub by: FindBy,
    /// The text.
    pub text: String,
}

/// The portal's "Filter by" menu and "Quick find" lists. `new`: purchased in the
/// 30 days before `as_of`; `expiring`: term licenses with 0–90 days left;
/// `expired`: term licenses past their expiry day; `available`: activated, not
/// expired, with seats left to allocate; `trial`: trial licenses; `hidden`: hidden
/// licenses ("Quick find: All hidden", where they are unhidden); `active`: every
/// license that is neither hidden nor expired ("Quick find: All active").
/// Every filter but `hidden` leaves hidden licenses out; with no filter, every
/// license that is not hidden is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// `new`.
    New,
    /// `expiring`.
    Expiring,
    /// `expired`.
    Expired,
    /// `available`.
    Available,
    /// `trial`.
    Trial,
    /// `hidden`: the only filter that finds hidden licenses.
    Hidden,
    /// `active`: neither hidden nor expired (see [`Filter`]).
    Active,
}

/// Term or perpetual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TermKind {
    /// Has an expiry date.
    Term,
    /// Does not expire.
    Perpetual,
}

/// What results are ordered by; ties are broken by license id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Purchase instant.
    PurchasedAt,
    /// Expiry date; perpetual licenses last.
    ExpiresOn,
    /// Order number.
    OrderNumber,
    /// Product code.
    Product,
    /// Seats purchased.
    Quantity,
}

impl SortKey {
    /// The SQL expression sorted on. Perpetual licenses sort as expiring at the end
    /// of time, so keyset comparisons never meet a NULL.
    fn expression(self) -> &'static str {
        match self {
            Self::PurchasedAt => "purchased_at",
            Self::ExpiresOn => "COALESCE(expires_on, DATE '9999-12-31')",
            Self::OrderNumber => "order_number",
            Self::Product => "product",
            Self::Quantity => "quantity",
        }
    }
}

/// A value of the sort key, from the last item of a page, to continue after.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// For `PurchasedAt`.
    Instant(DateTime<Utc>),
    /// For `ExpiresOn`.
    Date(NaiveDate),
    /// For `OrderNumber` and `Product`.
    Text(String),
    /// For `Quantity`.
    Number(i32),
}

/// Where a page starts: after this sort value and license id.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    /// The last item's sort value.
    pub value: SortValue,
    /// The last item's license id.
    pub license_id: Uuid,
}

/// A search over one account's licenses.
#[derive(Debug, Clone)]
pub struct LicenseSearch {
    /// The account searched.
    pub account_id: Uuid,
    /// The instant time-dependent filters are computed for.
    pub as_of: DateTime<Utc>,
    /// "Find a license by".
    pub find: Option<Find>,
    /// Edition code.
    pub edition: Option<String>,
    /// License model wire name.
    pub license_model: Option<String>,
    /// Binding type wire name.
    pub binding_type: Option<String>,
    /// Term or perpetual.
    pub term: Option<TermKind>,
    /// Purchased on or after this date.
    pub purchased_from: Option<NaiveDate>,
    /// Purchased on or before this date.
    pub purchased_to: Option<NaiveDate>,
    /// Expiring on or after this date.
    pub expires_from: Option<NaiveDate>,
    /// Expiring on or before this date.
    pub expires_to: Option<NaiveDate>,
    /// The portal's filter ([`Filter`] says what each finds, and what none finds).
    pub filter: Option<Filter>,
    /// Sort key.
    pub sort: SortKey,
    /// Descending order.
    pub descending: bool,
}

/// A license as search results and exports show it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LicenseSummary {
    /// The license.
    pub license_id: Uuid,
    /// Product code.
    pub product: String,
    /// Edition code.
    pub edition: String,
    /// Product version.
    pub version: String,
    /// Feature name.
    pub feature: String,
    /// License model.
    pub license_model: String,
    /// Binding type.
    pub binding_type: String,
    /// Seats purchased.
    pub quantity: i32,
    /// Seats on live allocations.
    pub allocated: i32,
    /// Last valid day; none for perpetual.
    pub expires_on: Option<NaiveDate>,
    /// Last day of maintenance.
    pub maintenance_until: NaiveDate,
    /// Order number.
    pub order_number: String,
    /// License access code.
    pub access_code: String,
    /// Trial license.
    pub trial: bool,
    /// Hidden.
    pub hidden: bool,
    /// When it was purchased.
    pub purchased_at: DateTime<Utc>,
    /// When it was activated.
    pub activated_at: Option<DateTime<Utc>>,
    /// Its version (last event sequence).
    pub last_sequence: i64,
}

/// A search result line: the license and what `as_of` makes of it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LicenseLine {
    /// The license.
    #[serde(flatten)]
    pub license: LicenseSummary,
    /// `available`, `new`, `days_to_expiry`, `expiry_band` at `as_of`.
    #[serde(flatten)]
    pub facts: LicenseFacts,
}

impl LicenseLine {
    fn new(license: LicenseSummary, window: &Window) -> Self {
        Self {
            facts: LicenseFacts::at(
                window,
                license.quantity,
                license.allocated,
                license.purchased_at,
                license.expires_on,
            ),
            license,
        }
    }

    /// This line's value of `key`, to continue a search after it.
    pub fn sort_value(&self, key: SortKey) -> SortValue {
        let license = &self.license;
        match key {
            SortKey::PurchasedAt => SortValue::Instant(license.purchased_at),
            SortKey::ExpiresOn => SortValue::Date(license.expires_on.unwrap_or(END_OF_TIME)),
            SortKey::OrderNumber => SortValue::Text(license.order_number.clone()),
            SortKey::Product => SortValue::Text(license.product.clone()),
            SortKey::Quantity => SortValue::Number(license.quantity),
        }
    }
}

/// How perpetual licenses sort by expiry; must match [`SortKey::expression`].
const END_OF_TIME: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(date) => date,
    None => NaiveDate::MAX,
};

const COLUMNS: &str = "license_id, product, edition, version, feature, license_model, binding_type,
    quantity, allocated, expires_on, maintenance_until, order_number, access_code, trial, hidden,
    purchased_at, activated_at, last_sequence";

/// Escapes `%`, `_` and `\` so user text matches literally in a LIKE prefix.
fn like_prefix(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

fn push_conditions(
    sql: &mut QueryBuilder<'_, Postgres>,
    schema: &str,
    search: &LicenseSearch,
    window: &Window,
) {
    sql.push(" WHERE account_id = ")
        .push_bind(search.account_id);
    sql.push(" AND purchased_at <= ").push_bind(window.as_of);
    if let Some(Find { by, text }) = &search.find {
        match by {
            FindBy::Product => {
                sql.push(" AND product = ").push_bind(text.clone());
            }
            FindBy::Feature => {
                sql.push(" AND feature = ").push_bind(text.clone());
            }
            FindBy::OrderNumber => {
                sql.push(" AND order_number LIKE ")
                    .push_bind(like_prefix(text));
            }
            FindBy::AccessCode => {
                sql.push(" AND access_code LIKE ")
                    .push_bind(like_prefix(text));
            }
            FindBy::ServerHost => {
                sql.push(format_args!(
                    " AND license_id IN (SELECT license_id FROM {schema}.license_allocations
                    WHERE status = 'live' AND account_id = "
                ))
                .push_bind(search.account_id)
                .push(" AND host = ")
                .push_bind(text.clone())
                .push(")");
            }
        }
    }
    let exact = [
        ("edition", &search.edition),
        ("license_model", &search.license_model),
        ("binding_type", &search.binding_type),
    ];
    for (column, value) in exact {
        if let Some(value) = value {
            sql.push(format_args!(" AND {column} = "))
                .push_bind(value.clone());
        }
    }
    match search.term {
        Some(TermKind::Term) => {
            sql.push(" AND expires_on IS NOT NULL");
        }
        Some(TermKind::Perpetual) => {
            sql.push(" AND expires_on IS NULL");
        }
        None => {}
    }
    if let Some(from) = search.purchased_from {
        sql.push(" AND purchased_at >= ")
            .push_bind(from.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Some(to) = search.purchased_to {
        sql.push(" AND purchased_at < ").push_bind(
            to.succ_opt()
                .unwrap_or(to)
                .and_time(chrono::NaiveTime::MIN)
                .and_utc(),
        );
    }
    if let Some(from) = search.expires_from {
        sql.push(" AND expires_on >= ").push_bind(from);
    }
    if let Some(to) = search.expires_to {
        sql.push(" AND expires_on <= ").push_bind(to);
    }
    if search.filter != Some(Filter::Hidden) {
        sql.push(" AND NOT hidden");
    }
    match search.filter {
        Some(Filter::New) => {
            sql.push(" AND purchased_at >= ")
                .push_bind(window.new_since);
        }
        Some(Filter::Expiring) => {
            // Said of the expiry sort key (the same rows: a window never reaches
            // the end of time), so that sorted by expiry the range is the index's
            // and a page reads its fifty rows, not the account's every expiring one.
            sql.push(format_args!(
                " AND {} BETWEEN ",
                SortKey::ExpiresOn.expression()
            ))
            .push_bind(window.today)
            .push(" AND ")
            .push_bind(window.expiring_until);
        }
        Some(Filter::Expired) => {
            sql.push(" AND expires_on < ").push_bind(window.today);
        }
        Some(Filter::Available) => {
            sql.push(" AND allocated < quantity AND activated_at IS NOT NULL AND (expires_on IS NULL OR expires_on >= ")
                .push_bind(window.today)
                .push(")");
        }
        Some(Filter::Trial) => {
            sql.push(" AND trial");
        }
        Some(Filter::Hidden) => {
            sql.push(" AND hidden");
        }
        Some(Filter::Active) => {
            sql.push(" AND (expires_on IS NULL OR expires_on >= ")
                .push_bind(window.today)
                .push(")");
        }
        None => {}
    }
}

fn push_after(sql: &mut QueryBuilder<'_, Postgres>, search: &LicenseSearch, after: &After) {
    let comparison = if search.descending { "<" } else { ">" };
    sql.push(format_args!(
        " AND ({}, license_id) {comparison} (",
        search.sort.expression()
    ));
    match &after.value {
        SortValue::Instant(value) => sql.push_bind(*value),
        SortValue::Date(value) => sql.push_bind(*value),
        SortValue::Text(value) => sql.push_bind(value.clone()),
        SortValue::Number(value) => sql.push_bind(*value),
    };
    sql.push(", ").push_bind(after.license_id).push(")");
}

/// One page of results: at most `limit` lines after `after`, from the read models
/// in `schema` (the live ones, or a replay of history).
pub async fn search_page(
    connection: &mut PgConnection,
    schema: &str,
    search: &LicenseSearch,
    after: Option<&After>,
    limit: u32,
) -> sqlx::Result<Vec<LicenseLine>> {
    let window = Window::new(search.as_of);
    let mut sql = QueryBuilder::new(format!("SELECT {COLUMNS} FROM {schema}.licenses"));
    push_conditions(&mut sql, schema, search, &window);
    if let Some(after) = after {
        push_after(&mut sql, search, after);
    }
    let direction = if search.descending { "DESC" } else { "ASC" };
    sql.push(format_args!(
        " ORDER BY {} {direction}, license_id {direction} LIMIT ",
        search.sort.expression()
    ))
    .push_bind(i64::from(limit));
    let rows: Vec<LicenseSummary> = sql.build_query_as().fetch_all(&mut *connection).await?;
    Ok(rows
        .into_iter()
        .map(|row| LicenseLine::new(row, &window))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_prefixes_match_wildcards_literally() {
        assert_eq!(like_prefix("ORD-1"), "ORD-1%");
        assert_eq!(like_prefix("50%_off\\"), "50\\%\\_off\\\\%");
    }
}
