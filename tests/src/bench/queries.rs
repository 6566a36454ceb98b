//! The read side under load: what a portal asks most (landing page, searches,
//! one license) next to a static endpoint of the same server, the baseline for
//! what the HTTP stack alone can answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use uuid::Uuid;

use super::fleet::{Fleet, Pick};
use super::stats::Samples;

/// A kind of query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `GET /health/live`: a constant answer through the same server and stack.
    Static,
    /// The account's landing page.
    LandingPage,
    /// The account's landing page asked again with the ETag last answered for it
    /// (`If-None-Match`), as a portal backend that keeps what it fetched: a 304
    /// while the page is unchanged.
    LandingPageRevalidated,
    /// The landing page with `Cache-Control: no-cache`: read from the database
    /// every time, past the gateway's page cache.
    LandingPageFromDatabase,
    /// Licenses expiring within 90 days, soonest first, first page.
    SearchExpiring,
    /// The same with `Cache-Control: no-cache`.
    SearchExpiringFromDatabase,
    /// Licenses by order-number prefix.
    SearchByOrderNumber,
    /// One license by id.
    LicenseById,
    /// The inclusion proof of a license's first event against the newest checkpoint.
    InclusionProof,
}

impl Query {
    /// Every kind, in report order.
    pub const ALL: [Query; 9] = [
        Query::Static,
        Query::LandingPage,
        Query::LandingPageRevalidated,
        Query::LandingPageFromDatabase,
        Query::SearchExpiring,
        Query::SearchExpiringFromDatabase,
        Query::SearchByOrderNumber,
        Query::LicenseById,
        Query::InclusionProof,
    ];

    /// Name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Query::Static => "static_endpoint",
            Query::LandingPage => "landing_page",
            Query::LandingPageRevalidated => "landing_page_revalidated",
            Query::LandingPageFromDatabase => "landing_page_from_database",
            Query::SearchExpiring => "search_expiring",
            Query::SearchExpiringFromDatabase => "search_expiring_from_database",
            Query::SearchByOrderNumber => "search_order_number",
            Query::LicenseById => "license_by_id",
            Query::InclusionProof => "inclusion_proof",
        }
    }
}

/// Accounts with tokens, and license ids of each, for queries to pick from.
#[derive(Clone)]
pub struct Readers {
    fleet: Fleet,
    /// `(account, portal token, license ids)`.
    accounts: Arc<Vec<(Uuid, String, Vec<Uuid>)>>,
}

impl Readers {
    /// Readers of the fleet's accounts; `licenses[i]` are ids of `fleet.accounts[i]`.
    pub fn new(fleet: &Fleet, licenses: &[Vec<Uuid>]) -> Self {
        let accounts = fleet
            .accounts
            .iter()
            .enumerate()
            .map(|(n, account)| {
                let token = fleet.identity(n).portal;
                (
                    *account,
                    token,
                    licenses.get(n).cloned().unwrap_or_default(),
                )
            })
            .collect();
        Self {
            fleet: fleet.clone(),
            accounts: Arc::new(accounts),
        }
    }

    /// The request for `query`, and the account it asks about (none for the
    /// static endpoint); `etags` holds the last ETag answered per account.
    fn request(
        &self,
        query: Query,
        pick: &mut Pick,
        etags: &HashMap<Uuid, String>,
    ) -> (reqwest::RequestBuilder, Option<Uuid>) {
        let client = &self.fleet.client;
        if query == Query::Static {
            let request = client.get(format!("{}/health/live", self.fleet.base_url));
            return (request, None);
        }
        let (account, token, licenses) = &self.accounts[pick.below(self.accounts.len())];
        let path = match query {
            Query::Static
            | Query::LandingPage
            | Query::LandingPageRevalidated
            | Query::LandingPageFromDatabase => "/landing-page".to_owned(),
            Query::SearchExpiring | Query::SearchExpiringFromDatabase => {
                "/licenses?filter=expiring&sort=expires_on&order=asc&limit=50".to_owned()
            }
            Query::SearchByOrderNumber => format!(
                "/licenses?find_by=order_number&q=ORD-{:05}&limit=50",
                pick.below(100_000)
            ),
            Query::LicenseById => match licenses.get(pick.below(licenses.len())) {
                Some(license) => format!("/licenses/{license}"),
                None => format!("/licenses/{}", Uuid::nil()),
            },
            Query::InclusionProof => format!(
                "/inclusion-proof?aggregate_type=License&aggregate_id={}&sequence=1",
                licenses
                    .get(pick.below(licenses.len()))
                    .copied()
                    .unwrap_or_default()
            ),
        };
        let mut request = client
            .get(self.fleet.account_url(*account, &path))
            .bearer_auth(token);
        if matches!(
            query,
            Query::LandingPageFromDatabase | Query::SearchExpiringFromDatabase
        ) {
            request = request.header(reqwest::header::CACHE_CONTROL, "no-cache");
        }
        if query == Query::LandingPageRevalidated {
            if let Some(etag) = etags.get(account) {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
        }
        (request, Some(*account))
    }

    /// `clients` tasks sending `queries` in turn for `duration`.
    pub async fn closed_loop(
        &self,
        queries: &[Query],
        clients: usize,
        duration: Duration,
    ) -> (Samples, Duration) {
        let started = Instant::now();
        let deadline = started + duration;
        let mut tasks = JoinSet::new();
        for client in 0..clients {
            let readers = self.clone();
            let queries = queries.to_vec();
            tasks.spawn(async move {
                let mut pick = Pick::new(client as u64 + 1);
                let mut samples = Samples::default();
                let mut etags = HashMap::new();
                let mut turn = 0;
                while Instant::now() < deadline {
                    let query = queries[turn % queries.len()];
                    turn += 1;
                    let (request, account) = readers.request(query, &mut pick, &etags);
                    let sent = Instant::now();
                    match request.send().await {
                        Ok(response)
                            if response.status().is_success()
                                || response.status() == reqwest::StatusCode::NOT_MODIFIED =>
                        {
                            let etag = response.headers().get(reqwest::header::ETAG);
                            if let (Some(account), Some(Ok(etag))) =
                                (account, etag.map(|tag| tag.to_str()))
                            {
                                etags.insert(account, etag.to_owned());
                            }
                            if response.bytes().await.is_ok() {
                                samples.record(sent.elapsed());
                            } else {
                                samples.record_error();
                            }
                        }
                        Ok(_) | Err(_) => samples.record_error(),
                    }
                }
                samples
            });
        }
        let mut samples = Samples::default();
        while let Some(done) = tasks.join_next().await {
            if let Ok(part) = done {
                samples.merge(part);
            }
        }
        (samples, started.elapsed())
    }
}
