//! The cache's rules, without I/O: what it serves, keeps and forgets as notices
//! arrive, are lost, or are not notices at all.
#![allow(clippy::unwrap_used)]

use super::*;
use ledger_projections::queries::landing_page::LandingPage;

const KEY_PATH: &str = "/v1/accounts/a/landing-page";

fn cache() -> ReadCache {
    ReadCache::new(
        CacheSettings {
            max_bytes: 1024 * 1024,
            max_age: Duration::from_secs(60),
        },
        ReadCacheMetrics::default(),
    )
}

fn at(instant: &str) -> DateTime<Utc> {
    instant.parse().unwrap()
}

fn key(account: Uuid) -> PageKey {
    PageKey {
        account,
        asked: KEY_PATH.into(),
    }
}

fn version(applied: (i64, i64)) -> PageVersion {
    PageVersion {
        applied,
        changes_at: at("2026-06-16T00:00:00Z"),
    }
}

/// A page's body as the route serializes it.
fn body(as_of: DateTime<Utc>) -> Bytes {
    serde_json::to_vec(&LandingPage {
        as_of,
        new_licenses: Vec::new(),
        expiring_licenses: Vec::new(),
    })
    .unwrap()
    .into()
}

fn read_for() -> DateTime<Utc> {
    at("2026-06-15T08:00:00.123456Z")
}

/// A cache hearing notices since stream sequence 10, holding `account`'s page at
/// version (5, 50).
fn holding(account: Uuid) -> ReadCache {
    let cache = cache();
    cache.listening(10);
    keep(&cache, cache.ticket().unwrap(), account, (5, 50));
    cache
}

/// Keeps `account`'s page at version `applied`, read for [`read_for`].
fn keep(cache: &ReadCache, ticket: Ticket, account: Uuid, applied: (i64, i64)) {
    cache.keep(
        ticket,
        key(account),
        version(applied),
        read_for(),
        &body(read_for()),
    );
}

fn served(cache: &ReadCache, account: Uuid, as_of: DateTime<Utc>) -> Option<Hit> {
    cache.lookup(&key(account), as_of, &HeaderMap::new())
}

fn notice(after: u64, reached: u64, accounts: &[(Uuid, (i64, i64))]) -> AppliedNotice {
    AppliedNotice::of_batch(after, reached, accounts)
}

#[test]
fn a_kept_page_is_served_for_a_later_instant_with_that_instant_in_it() {
    let account = Uuid::new_v4();
    let cache = holding(account);
    let later = at("2026-06-15T20:00:00Z");
    let hit = served(&cache, account, later).unwrap();
    assert_eq!(hit.version, version((5, 50)));
    assert_eq!(
        hit.body,
        body(later),
        "byte for byte what the route would answer"
    );
}

#[test]
fn a_page_holds_from_its_instant_until_time_alone_changes_it() {
    let account = Uuid::new_v4();
    let cache = holding(account);
    assert!(
        served(&cache, account, at("2026-06-15T08:00:00Z")).is_none(),
        "before the instant it was read for, a purchase in between could be missing"
    );
    let cache = holding(account);
    assert!(served(&cache, account, at("2026-06-15T23:59:59.999Z")).is_some());
    assert!(
        served(&cache, account, at("2026-06-16T00:00:00Z")).is_none(),
        "at midnight days left and new move"
    );
}

#[test]
fn an_account_heard_to_move_past_a_page_is_read_again_and_others_are_not() {
    let (account, other) = (Uuid::new_v4(), Uuid::new_v4());
    let cache = holding(account);
    cache.heard(&notice(10, 12, &[(other, (9, 90))]));
    assert!(served(&cache, account, read_for()).is_some());
    cache.heard(&notice(12, 13, &[(account, (5, 50))]));
    assert!(
        served(&cache, account, read_for()).is_some(),
        "a notice of the page's own version changes nothing"
    );
    // Later in stream order, though lower in global position.
    cache.heard(&notice(13, 14, &[(account, (6, 40))]));
    assert!(served(&cache, account, read_for()).is_none());
}

#[test]
fn a_page_read_before_a_notice_it_missed_is_not_kept() {
    let account = Uuid::new_v4();
    let cache = cache();
    cache.listening(10);
    let ticket = cache.ticket().unwrap();
    // The notice arrives while the page is being read from the database.
    cache.heard(&notice(10, 11, &[(account, (7, 70))]));
    keep(&cache, ticket, account, (5, 50));
    assert!(served(&cache, account, read_for()).is_none());
    // Read again at the new version, it is kept.
    let ticket = cache.ticket().unwrap();
    keep(&cache, ticket, account, (7, 70));
    assert!(served(&cache, account, read_for()).is_some());
}

#[test]
fn a_missed_notice_drops_every_page_and_so_does_what_is_not_a_notice() {
    let account = Uuid::new_v4();
    let cache = holding(account);
    // Its batch started at 12: the one from 10 to 12 was never heard.
    cache.heard(&notice(12, 15, &[]));
    assert!(served(&cache, account, read_for()).is_none());

    let cache = holding(account);
    cache.malformed();
    assert!(served(&cache, account, read_for()).is_none());

    let cache = holding(account);
    let many: Vec<(Uuid, (i64, i64))> = (0..=ledger_projections::applied::MOST_ACCOUNTS_NAMED)
        .map(|_| (Uuid::new_v4(), (1, 1)))
        .collect();
    cache.heard(&notice(10, 11, &many));
    assert!(
        served(&cache, account, read_for()).is_none(),
        "a notice of everything"
    );
}

#[test]
fn a_page_read_across_a_gap_is_not_kept() {
    let account = Uuid::new_v4();
    let cache = cache();
    cache.listening(10);
    let ticket = cache.ticket().unwrap();
    cache.heard(&notice(11, 12, &[]));
    keep(&cache, ticket, account, (5, 50));
    assert!(served(&cache, account, read_for()).is_none());
}

#[test]
fn nothing_is_kept_or_served_while_notices_are_not_heard() {
    let account = Uuid::new_v4();
    let cache = cache();
    assert!(cache.ticket().is_none(), "before listening");
    let cache = holding(account);
    cache.deaf();
    assert!(cache.ticket().is_none());
    assert!(served(&cache, account, read_for()).is_none());
    let off = ReadCache::new(
        CacheSettings {
            max_bytes: 0,
            max_age: Duration::from_secs(1),
        },
        ReadCacheMetrics::default(),
    );
    assert!(!off.enabled());
    off.listening(0);
    assert!(off.ticket().is_none(), "read_cache_bytes = 0 keeps nothing");
}

#[test]
fn a_page_older_than_the_max_age_is_read_again() {
    let account = Uuid::new_v4();
    let cache = ReadCache::new(
        CacheSettings {
            max_bytes: 1024 * 1024,
            max_age: Duration::from_millis(30),
        },
        ReadCacheMetrics::default(),
    );
    cache.listening(0);
    keep(&cache, cache.ticket().unwrap(), account, (5, 50));
    assert!(served(&cache, account, read_for()).is_some());
    std::thread::sleep(Duration::from_millis(40));
    assert!(served(&cache, account, read_for()).is_none());
}

#[test]
fn no_cache_in_the_request_reads_the_database() {
    let account = Uuid::new_v4();
    let cache = holding(account);
    for (name, value) in [
        (header::CACHE_CONTROL, "no-cache"),
        (header::CACHE_CONTROL, "max-age=0, No-Store"),
        (header::PRAGMA, "no-cache"),
    ] {
        let mut request = HeaderMap::new();
        request.insert(name, value.parse().unwrap());
        assert!(cache.lookup(&key(account), read_for(), &request).is_none());
    }
    assert!(served(&cache, account, read_for()).is_some(), "still kept");
}

#[test]
fn the_pages_stay_within_their_bytes() {
    let cache = ReadCache::new(
        CacheSettings {
            max_bytes: 64 * 1024,
            max_age: Duration::from_secs(60),
        },
        ReadCacheMetrics::default(),
    );
    cache.listening(0);
    let accounts: Vec<Uuid> = (0..1_000).map(|_| Uuid::new_v4()).collect();
    for account in &accounts {
        keep(&cache, cache.ticket().unwrap(), *account, (1, 1));
    }
    let state = cache.state();
    assert!(state.bytes <= 64 * 1024, "{} bytes", state.bytes);
    assert!(state.pages.len() > 100, "{} pages", state.pages.len());
    let counted: usize = state.pages.iter().map(|(key, kept)| kept.weight(key)).sum();
    assert_eq!(counted, state.bytes);
}

#[test]
fn a_body_that_does_not_begin_with_its_as_of_is_not_kept() {
    let account = Uuid::new_v4();
    let cache = cache();
    cache.listening(0);
    let ticket = cache.ticket().unwrap();
    cache.keep(
        ticket,
        key(account),
        version((1, 1)),
        read_for(),
        &Bytes::from_static(b"{\"items\":[]}"),
    );
    assert!(served(&cache, account, read_for()).is_none());
}

#[test]
fn the_license_list_begins_with_its_as_of_too() {
    let page = crate::http::routes::search::Page {
        as_of: read_for(),
        items: Vec::new(),
        next_cursor: Some("abc".into()),
    };
    let body = Bytes::from(serde_json::to_vec(&page).unwrap());
    let tail = tail_after_as_of(read_for(), &body).unwrap();
    assert_eq!(with_as_of(read_for(), &tail), body);
}

#[test]
fn more_accounts_heard_than_are_remembered_drops_everything() {
    let account = Uuid::new_v4();
    let cache = holding(account);
    let mut after = 10;
    let batches = MOST_ACCOUNTS_REMEMBERED / ledger_projections::applied::MOST_ACCOUNTS_NAMED;
    for _ in 0..batches {
        let moved: Vec<(Uuid, (i64, i64))> = (0..ledger_projections::applied::MOST_ACCOUNTS_NAMED)
            .map(|_| (Uuid::new_v4(), (1, 1)))
            .collect();
        cache.heard(&notice(after, after + 1, &moved));
        after += 1;
    }
    assert!(
        served(&cache, account, read_for()).is_some(),
        "{} accounts remembered",
        cache.state().heard.len()
    );
    let moved: Vec<(Uuid, (i64, i64))> = (0..ledger_projections::applied::MOST_ACCOUNTS_NAMED)
        .map(|_| (Uuid::new_v4(), (1, 1)))
        .collect();
    cache.heard(&notice(after, after + 1, &moved));
    assert!(served(&cache, account, read_for()).is_none());
    assert!(cache.state().heard.is_empty(), "memory given back");
}
