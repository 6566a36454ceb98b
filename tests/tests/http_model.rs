//! Random command sequences against the running ledger over HTTP, compared step by
//! step with a simple model of a license (`http_model/model.rs`, written from the
//! README alone): the ledger accepts exactly what the model accepts, refuses the
//! rest with an answer the model allows (status, 422 `rule`, 400 `field`), records
//! one event per accepted command and nothing for a refused one, and its read
//! model shows the model's license (quantities, dates, edition, version,
//! visibility, feature, every allocation with its host, seats, status, replacement
//! and file revision).
//!
//! One ledger process serves every case; each case works on a license of its own
//! (fresh id), so cases are independent and shrinking replays a case from
//! scratch. A case is 0–2 operations before the purchase (refused purchases,
//! commands on a license that does not exist yet), a valid purchase, most often
//! its activation, then 9–36 operations mixing valid and invalid ones, malformed
//! bodies included.
//! `PROPTEST_CASES` sets the number of cases (24 by default).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "http_model/model.rs"]
mod model;

use chrono::{Days, NaiveDate, Utc};
use ledger_tests::{answer, ledger_bin, noon, purchase_body, Answer, Api, Ledger, TestEnv};
use model::{
    apply, decide, latest_date, Binding, Command, Edition, Host, License, Purchase, Refusal,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Fixed facts.
// ---------------------------------------------------------------------------

const ACCESS_CODE: &str = "LA-0001234567-12345";

/// License server ids and whether each is valid for a host name or a MAC binding.
const HOSTS: [Host; 10] = [
    host("srv-a", true, false),
    // Another server: host names are compared exactly, case included.
    host("SRV-A", true, false),
    host("srv-b.corp.example", true, false),
    host("0a1b2c3d4e5f", true, true),
    host("0A1B2C3D4E5F", true, true),
    host("bad host", false, false),
    host("-lead", false, false),
    host("", false, false),
    host("0a:1b:2c:3d:4e:5f", false, false),
    // A 64-character label: one more than RFC 1123 allows.
    host(
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        false,
        false,
    ),
];

const fn host(id: &'static str, valid_host_name: bool, valid_mac: bool) -> Host {
    Host {
        id,
        valid_host_name,
        valid_mac,
    }
}

/// Editions an upgrade may name; `None` is one that does not parse.
const EDITIONS: [Option<Edition>; 5] = [
    Some(Edition::Std),
    Some(Edition::Adv),
    Some(Edition::Ent),
    Some(Edition::Plt),
    None,
];

/// A version that does not parse.
const UNPARSABLE_VERSION: &str = "7.x";

/// Versions an upgrade may name: ties written differently, numeric order against
/// text order, and one that does not parse.
const VERSIONS: [&str; 9] = [
    "7",
    "7.9",
    "7.15",
    "7.15.0",
    "07.15",
    "7.16",
    "8.0",
    "2403.1",
    UNPARSABLE_VERSION,
];

/// Day shifts for renewals, from the date the license has now.
const SHIFTS: [i64; 6] = [-30, -1, 0, 1, 30, 365];

/// A date a renewal names.
#[derive(Debug, Clone, Copy)]
enum RenewTo {
    /// Days from the date the license has now (from today for the expiry of a
    /// perpetual license).
    Shift(i64),
    /// 9999-12-31, the last date a license may carry.
    Latest,
    /// 10000-01-01.
    BeyondLatest,
}

// ---------------------------------------------------------------------------
// Operations and their strategies.
// ---------------------------------------------------------------------------

/// What a purchase gets wrong.
#[derive(Debug, Clone, Copy)]
enum Defect {
    ZeroQuantity,
    QuantityAboveMaximum,
    NegativeQuantity,
    UnknownEdition,
    UnknownBinding,
    UnknownField,
    EmptyOrderNumber,
    SpaceInAccessCode,
    PurchasedTomorrow,
    PerpetualTrial,
    ExpiresOnPurchaseDay,
}

#[derive(Debug, Clone)]
struct PurchaseOp {
    quantity: u32,
    edition: Edition,
    partial_allocation: bool,
    binding: Binding,
    /// Days from today to the expiry; `None`: perpetual.
    expires_in: Option<i64>,
    /// Days from today to the end of maintenance.
    maintenance_in: i64,
    /// `None`: the field is left out (now).
    purchased_days_ago: Option<u64>,
    trial: bool,
    defect: Option<Defect>,
}

/// How many seats an allocation asks for, resolved against the model.
#[derive(Debug, Clone, Copy)]
enum Quantity {
    Zero,
    Few(u32),
    Unallocated,
    OneMoreThanUnallocated,
    Whole,
    Negative,
}

/// The allocation id a command names for what it creates.
#[derive(Debug, Clone, Copy)]
enum NewId {
    LedgerChooses,
    Fresh,
    /// The nth allocation made so far (modulo their number); fresh if none.
    Taken(usize),
}

/// The allocation a command acts on.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The nth allocation made so far (modulo their number); unknown if none.
    Made(usize),
    Unknown,
    NotAUuid,
}

#[derive(Debug, Clone, Copy)]
enum Code {
    Right,
    Wrong,
    OtherCase,
}

#[derive(Debug, Clone, Copy)]
enum Malformed {
    NotJson,
    BrokenJson,
    UnknownField,
    WrongType,
    MissingField,
}

#[derive(Debug, Clone)]
enum Op {
    /// Read the license and compare it with the model.
    Check,
    Purchase(PurchaseOp),
    Activate(Code),
    Allocate {
        quantity: Quantity,
        host: usize,
        id: NewId,
    },
    Modify {
        target: Target,
        host: usize,
        id: NewId,
    },
    Return(Target),
    Hide,
    Unhide,
    Renew {
        expires_on: Option<RenewTo>,
        maintenance_until: Option<RenewTo>,
    },
    /// Indexes into [`EDITIONS`] and [`VERSIONS`].
    Upgrade {
        edition: Option<usize>,
        version: Option<usize>,
    },
    Malformed(Malformed),
}

#[derive(Debug, Clone)]
struct Case {
    before: Vec<Op>,
    purchase: PurchaseOp,
    /// Activate with the right code right after the purchase (most cases), so
    /// that allocations get going.
    activate: bool,
    after: Vec<Op>,
}

fn edition_strategy() -> impl Strategy<Value = Edition> {
    select(vec![Edition::Std, Edition::Adv, Edition::Ent, Edition::Plt])
}

/// A purchase the model should accept: expiry after the purchase day, trials term.
fn valid_purchase() -> impl Strategy<Value = PurchaseOp> {
    (
        prop_oneof![4 => 1u32..=6, 1 => Just(1000u32)],
        edition_strategy(),
        prop::bool::weighted(0.75),
        prop_oneof![4 => Just(Binding::HostName), 1 => Just(Binding::MacAddress)],
        prop::option::weighted(0.7, select(vec![-30i64, -1, 0, 1, 30, 400])),
        select(vec![-30i64, -1, 0, 1, 365]),
        prop::option::of(select(vec![40u64, 500])),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(quantity, edition, partial, binding, expires_in, maintenance_in, ago, trial)| {
                PurchaseOp {
                    quantity,
                    edition,
                    partial_allocation: partial,
                    binding,
                    expires_in,
                    maintenance_in,
                    // Long enough ago to expire on any day generated.
                    purchased_days_ago: if expires_in.is_some_and(|days| days <= 0) {
                        Some(500)
                    } else {
                        ago
                    },
                    trial: trial && expires_in.is_some(),
                    defect: None,
                }
            },
        )
}

fn defect_strategy() -> impl Strategy<Value = Defect> {
    select(vec![
        Defect::ZeroQuantity,
        Defect::QuantityAboveMaximum,
        Defect::NegativeQuantity,
        Defect::UnknownEdition,
        Defect::UnknownBinding,
        Defect::UnknownField,
        Defect::EmptyOrderNumber,
        Defect::SpaceInAccessCode,
        Defect::PurchasedTomorrow,
        Defect::PerpetualTrial,
        Defect::ExpiresOnPurchaseDay,
    ])
}

/// A purchase with one thing wrong.
fn bad_purchase() -> impl Strategy<Value = PurchaseOp> {
    (valid_purchase(), defect_strategy()).prop_map(|(purchase, defect)| PurchaseOp {
        defect: Some(defect),
        ..purchase
    })
}

fn new_id_strategy() -> impl Strategy<Value = NewId> {
    prop_oneof![
        3 => Just(NewId::LedgerChooses),
        1 => Just(NewId::Fresh),
        1 => (0usize..8).prop_map(NewId::Taken),
    ]
}

fn target_strategy() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => (0usize..8).prop_map(Target::Made),
        1 => Just(Target::Unknown),
        1 => Just(Target::NotAUuid),
    ]
}

/// Mostly the first five hosts (valid host names), sometimes any.
fn host_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0usize..5, 1 => 0..HOSTS.len()]
}

fn quantity_strategy() -> impl Strategy<Value = Quantity> {
    prop_oneof![
        1 => Just(Quantity::Zero),
        3 => (1u32..=3).prop_map(Quantity::Few),
        3 => Just(Quantity::Unallocated),
        1 => Just(Quantity::OneMoreThanUnallocated),
        1 => Just(Quantity::Whole),
        1 => Just(Quantity::Negative),
    ]
}

/// Any operation. `Check` comes first so that shrinking turns the operations a
/// failure does not need into harmless reads.
fn op_strategy() -> impl Strategy<Value = Op> {
    let shift = || {
        let to = prop_oneof![
            8 => select(SHIFTS.to_vec()).prop_map(RenewTo::Shift),
            1 => Just(RenewTo::Latest),
            1 => Just(RenewTo::BeyondLatest),
        ];
        prop::option::weighted(0.6, to)
    };
    prop_oneof![
        1 => Just(Op::Check),
        1 => prop_oneof![valid_purchase(), bad_purchase()].prop_map(Op::Purchase),
        2 => prop_oneof![
            3 => Just(Code::Right),
            1 => Just(Code::Wrong),
            1 => Just(Code::OtherCase),
        ]
        .prop_map(Op::Activate),
        6 => (quantity_strategy(), host_strategy(), new_id_strategy())
            .prop_map(|(quantity, host, id)| Op::Allocate { quantity, host, id }),
        3 => (target_strategy(), host_strategy(), new_id_strategy())
            .prop_map(|(target, host, id)| Op::Modify { target, host, id }),
        3 => target_strategy().prop_map(Op::Return),
        1 => Just(Op::Hide),
        1 => Just(Op::Unhide),
        2 => (shift(), shift()).prop_map(|(expires_on, maintenance_until)| Op::Renew {
            expires_on,
            maintenance_until,
        }),
        2 => (
            prop::option::weighted(0.5, 0..EDITIONS.len()),
            prop::option::weighted(0.6, 0..VERSIONS.len()),
        )
            .prop_map(|(edition, version)| Op::Upgrade { edition, version }),
        1 => select(vec![
            Malformed::NotJson,
            Malformed::BrokenJson,
            Malformed::UnknownField,
            Malformed::WrongType,
            Malformed::MissingField,
        ])
        .prop_map(Op::Malformed),
    ]
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let before = prop_oneof![2 => bad_purchase().prop_map(Op::Purchase), 1 => op_strategy()];
    (
        prop::collection::vec(before, 0..=2),
        valid_purchase(),
        prop::bool::weighted(0.75),
        prop::collection::vec(op_strategy(), 9..=36),
    )
        .prop_map(|(before, purchase, activate, after)| Case {
            before,
            purchase,
            activate,
            after,
        })
}

// ---------------------------------------------------------------------------
// Running a case.
// ---------------------------------------------------------------------------

/// A request body.
#[derive(Debug)]
enum Body {
    None,
    Json(Value),
    Raw {
        content_type: &'static str,
        text: &'static str,
    },
}

/// What an operation should get: the model's decision on a command, or a refusal
/// before any command (the request does not parse).
enum Expect {
    Command(Command),
    Refused(Vec<Refusal>),
}

/// Sets `name` in the JSON object `body` when there is a value; left out, the
/// field takes its default.
fn put<T: serde::Serialize>(body: &mut Value, name: &str, value: Option<T>) {
    if let Some(value) = value {
        body[name] = serde_json::to_value(value).unwrap();
    }
}

/// `days` after `date` (before it when negative).
fn shifted(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date + Days::new(days.unsigned_abs())
    } else {
        date - Days::new(days.unsigned_abs())
    }
}

/// One case's license, its model and what the test has seen.
struct Run<'a> {
    api: &'a Api,
    pool: &'a PgPool,
    license_id: Uuid,
    /// The day the case started: every date is placed relative to it.
    today: NaiveDate,
    model: Option<License>,
    /// Global position of the last accepted command.
    position: Option<i64>,
    /// The operations so far, with their answers, for a failure's message.
    log: Vec<String>,
}

impl Run<'_> {
    /// A disagreement, unless the day changed during the case: then the model's
    /// dates no longer mean what they meant, and the case is set aside instead.
    fn mismatch(&self, what: String) -> TestCaseError {
        if Utc::now().date_naive() != self.today {
            return TestCaseError::reject("the day changed during the case");
        }
        TestCaseError::fail(format!(
            "{what}\nlicense {}; steps:\n{}",
            self.license_id,
            self.log.join("\n")
        ))
    }

    fn day(&self, days: i64) -> NaiveDate {
        shifted(self.today, days)
    }

    fn license_path(&self) -> String {
        format!("/licenses/{}", self.license_id)
    }

    /// The ids of the allocations made so far, oldest first.
    fn made(&self) -> &[Uuid] {
        self.model
            .as_ref()
            .map(|l| l.allocation_order.as_slice())
            .unwrap_or_default()
    }

    fn new_id(&self, id: NewId) -> Option<Uuid> {
        match (id, self.made()) {
            (NewId::LedgerChooses, _) => None,
            (NewId::Taken(n), made) if !made.is_empty() => Some(made[n % made.len()]),
            (NewId::Fresh | NewId::Taken(_), _) => Some(Uuid::new_v4()),
        }
    }

    /// The allocation path segment, and its id when it is one.
    fn target(&self, target: Target) -> (String, Option<Uuid>) {
        let id = match (target, self.made()) {
            (Target::NotAUuid, _) => return ("not-a-uuid".into(), None),
            (Target::Made(n), made) if !made.is_empty() => made[n % made.len()],
            (Target::Made(_) | Target::Unknown, _) => Uuid::new_v4(),
        };
        (id.to_string(), Some(id))
    }

    fn purchase(&self, op: &PurchaseOp) -> (Body, Expect) {
        let purchased_at = match op.defect {
            Some(Defect::PurchasedTomorrow) => Some(Utc::now() + chrono::Duration::days(1)),
            _ => op
                .purchased_days_ago
                .map(|days| noon(self.today - Days::new(days))),
        };
        let purchased_on = purchased_at.map_or(self.today, |at| at.date_naive());
        let command = Purchase {
            quantity: match op.defect {
                Some(Defect::ZeroQuantity) => 0,
                Some(Defect::QuantityAboveMaximum) => 100_000_001,
                _ => op.quantity,
            },
            edition: op.edition,
            version: "7.15",
            binding: op.binding,
            expires_on: match op.defect {
                Some(Defect::PerpetualTrial) => None,
                Some(Defect::ExpiresOnPurchaseDay) => Some(purchased_on),
                _ => op.expires_in.map(|days| self.day(days)),
            },
            maintenance_until: self.day(op.maintenance_in),
            order_number: match op.defect {
                Some(Defect::EmptyOrderNumber) => String::new(),
                _ => "ORD-HTTP-MODEL".into(),
            },
            access_code: match op.defect {
                Some(Defect::SpaceInAccessCode) => "LA 0001234567".into(),
                _ => ACCESS_CODE.into(),
            },
            trial: op.trial || matches!(op.defect, Some(Defect::PerpetualTrial)),
            partial_allocation: op.partial_allocation,
            purchased_at,
        };
        let mut body = purchase_body(command.expires_on);
        let fields = json!({
            "license_id": self.license_id,
            "edition": command.edition.code(),
            "version": command.version,
            "binding_type": match command.binding {
                Binding::HostName => "host_name",
                Binding::MacAddress => "mac_address",
            },
            "quantity": command.quantity,
            "maintenance_until": command.maintenance_until,
            "order_number": command.order_number,
            "access_code": command.access_code,
        });
        for (name, value) in fields.as_object().unwrap() {
            body[name] = value.clone();
        }
        put(&mut body, "trial", command.trial.then_some(true));
        put(
            &mut body,
            "partial_allocation",
            (!command.partial_allocation).then_some(false),
        );
        put(&mut body, "purchased_at", purchased_at);
        let unparsable = match op.defect {
            Some(Defect::NegativeQuantity) => Some(("quantity", json!(-1))),
            Some(Defect::UnknownEdition) => Some(("edition", json!("GOLD"))),
            Some(Defect::UnknownBinding) => Some(("binding_type", json!("usb_dongle"))),
            Some(Defect::UnknownField) => Some(("colour", json!("red"))),
            _ => None,
        };
        match unparsable {
            Some((field, value)) => {
                body[field] = value;
                (
                    Body::Json(body),
                    Expect::Refused(vec![Refusal::field(field)]),
                )
            }
            None => (
                Body::Json(body),
                Expect::Command(Command::Purchase(command)),
            ),
        }
    }

    /// The request for `op` and what it should get.
    fn plan(&self, op: &Op) -> (String, Body, Expect) {
        let license = self.license_path();
        let command =
            |path: String, body: Body, command: Command| (path, body, Expect::Command(command));
        let refused = |path: String, body: Body, refusal: Refusal| {
            (path, body, Expect::Refused(vec![refusal]))
        };
        match *op {
            Op::Check => unreachable!("a check sends no command"),
            Op::Purchase(ref purchase) => {
                let (body, expect) = self.purchase(purchase);
                ("/licenses".into(), body, expect)
            }
            Op::Activate(code) => {
                let access_code = match code {
                    Code::Right => ACCESS_CODE.to_owned(),
                    Code::Wrong => ACCESS_CODE.replace('5', "6"),
                    Code::OtherCase => ACCESS_CODE.to_lowercase(),
                };
                command(
                    format!("{license}/activate"),
                    Body::Json(json!({"access_code": access_code})),
                    Command::Activate { access_code },
                )
            }
            Op::Allocate { quantity, host, id } => {
                let model = self.model.as_ref();
                let unallocated = model.map_or(1, License::unallocated);
                let quantity = match quantity {
                    Quantity::Zero => 0,
                    Quantity::Few(n) => n,
                    Quantity::Unallocated => unallocated,
                    Quantity::OneMoreThanUnallocated => unallocated + 1,
                    Quantity::Whole => model.map_or(1, |l| l.terms.quantity),
                    Quantity::Negative => {
                        return refused(
                            format!("{license}/allocations"),
                            Body::Json(json!({"host": "srv-a", "quantity": -1})),
                            Refusal::field("quantity"),
                        )
                    }
                };
                let host = HOSTS[host];
                let allocation_id = self.new_id(id);
                let mut body = json!({"host": host.id, "quantity": quantity});
                put(&mut body, "allocation_id", allocation_id);
                command(
                    format!("{license}/allocations"),
                    Body::Json(body),
                    Command::Allocate {
                        allocation_id,
                        host,
                        quantity,
                    },
                )
            }
            Op::Modify { target, host, id } => {
                let (segment, allocation_id) = self.target(target);
                let path = format!("{license}/allocations/{segment}/modify");
                let new_host = HOSTS[host];
                let new_allocation_id = self.new_id(id);
                let mut body = json!({"new_host": new_host.id});
                put(&mut body, "new_allocation_id", new_allocation_id);
                match allocation_id {
                    None => refused(path, Body::Json(body), Refusal::field("path.allocation_id")),
                    Some(allocation_id) => command(
                        path,
                        Body::Json(body),
                        Command::Modify {
                            allocation_id,
                            new_allocation_id,
                            new_host,
                        },
                    ),
                }
            }
            Op::Return(target) => {
                let (segment, allocation_id) = self.target(target);
                let path = format!("{license}/allocations/{segment}/return");
                match allocation_id {
                    None => refused(path, Body::None, Refusal::field("path.allocation_id")),
                    Some(allocation_id) => {
                        command(path, Body::None, Command::Return { allocation_id })
                    }
                }
            }
            Op::Hide => command(format!("{license}/hide"), Body::None, Command::Hide),
            Op::Unhide => command(format!("{license}/unhide"), Body::None, Command::Unhide),
            Op::Renew {
                expires_on,
                maintenance_until,
            } => {
                let model = self.model.as_ref();
                let date = |from: Option<NaiveDate>, to| match to {
                    RenewTo::Shift(days) => shifted(from.unwrap_or(self.today), days),
                    RenewTo::Latest => latest_date(),
                    RenewTo::BeyondLatest => latest_date() + Days::new(1),
                };
                let expires_on =
                    expires_on.map(|to| date(model.and_then(|l| l.terms.expires_on), to));
                let maintenance_until =
                    maintenance_until.map(|to| date(model.map(|l| l.terms.maintenance_until), to));
                let mut body = json!({});
                put(&mut body, "expires_on", expires_on);
                put(&mut body, "maintenance_until", maintenance_until);
                command(
                    format!("{license}/renew"),
                    Body::Json(body),
                    Command::Renew {
                        expires_on,
                        maintenance_until,
                    },
                )
            }
            Op::Upgrade { edition, version } => {
                let path = format!("{license}/upgrade");
                let mut body = json!({});
                let edition_code = |index: usize| EDITIONS[index].map_or("GOLD", Edition::code);
                put(&mut body, "edition", edition.map(edition_code));
                put(&mut body, "version", version.map(|index| VERSIONS[index]));
                if edition.is_some_and(|index| EDITIONS[index].is_none()) {
                    return refused(path, Body::Json(body), Refusal::field("edition"));
                }
                let version = version.map(|index| VERSIONS[index]);
                if version == Some(UNPARSABLE_VERSION) {
                    return refused(path, Body::Json(body), Refusal::field("version"));
                }
                command(
                    path,
                    Body::Json(body),
                    Command::Upgrade {
                        edition: edition.and_then(|index| EDITIONS[index]),
                        version,
                    },
                )
            }
            Op::Malformed(kind) => {
                let (path, body, refusal) = match kind {
                    Malformed::NotJson => (
                        "allocations",
                        Body::Raw {
                            content_type: "text/plain",
                            text: "host=srv-a&quantity=1",
                        },
                        Refusal::status(415),
                    ),
                    Malformed::BrokenJson => (
                        "activate",
                        Body::Raw {
                            content_type: "application/json",
                            text: "{\"access_code\": ",
                        },
                        Refusal::field("body"),
                    ),
                    Malformed::UnknownField => (
                        "allocations",
                        Body::Json(json!({"host": "srv-a", "quantity": 1, "colour": "red"})),
                        Refusal::field("colour"),
                    ),
                    Malformed::WrongType => (
                        "renew",
                        Body::Json(json!({"expires_on": "soon"})),
                        Refusal::field("expires_on"),
                    ),
                    Malformed::MissingField => (
                        "allocations",
                        Body::Json(json!({"host": "srv-a"})),
                        Refusal::status(400),
                    ),
                };
                refused(format!("{license}/{path}"), body, refusal)
            }
        }
    }

    async fn send(&self, path: &str, body: &Body) -> Answer {
        let request = self.api.request(reqwest::Method::POST, path);
        let request = match body {
            Body::None => request,
            Body::Json(json) => request.json(json),
            Body::Raw { content_type, text } => request
                .header(reqwest::header::CONTENT_TYPE, *content_type)
                .body(*text),
        };
        answer(request.send().await.unwrap()).await.unwrap()
    }

    /// Events the store holds for this case's license.
    async fn stored_events(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_type = 'License' AND aggregate_id = $1",
        )
        .bind(self.license_id.to_string())
        .fetch_one(self.pool)
        .await
        .unwrap()
    }

    async fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if let Op::Check = op {
            self.log.push("Check".into());
            return self.check_read_model().await;
        }
        let (path, body, expect) = self.plan(op);
        let decision = match expect {
            Expect::Command(command) => {
                decide(self.model.as_ref(), &command, Utc::now()).map(|()| command)
            }
            Expect::Refused(refusals) => Err(refusals),
        };
        let answer = self.send(&path, &body).await;
        self.log.push(format!(
            "{op:?}\n    POST {path} {body:?}\n    -> {} {}",
            answer.status, answer.body
        ));
        match decision {
            Ok(command) => self.accepted(command, &answer)?,
            Err(refusals) => {
                let allowed = refusals.iter().any(|refusal| {
                    refusal.status == answer.status
                        && refusal.rule.is_none_or(|rule| answer.body["rule"] == rule)
                        && refusal
                            .field
                            .is_none_or(|field| answer.body["field"] == field)
                });
                if !allowed {
                    return Err(
                        self.mismatch(format!("the model refuses with one of {refusals:?}"))
                    );
                }
            }
        }
        let recorded = self.model.as_ref().map_or(0, |l| l.events);
        let stored = self.stored_events().await;
        if stored != recorded {
            return Err(self.mismatch(format!(
                "the store holds {stored} events for the license, the model {recorded}"
            )));
        }
        Ok(())
    }

    /// Checks the answer of a command the model accepts and applies it to the model.
    fn accepted(&mut self, command: Command, answer: &Answer) -> Result<(), TestCaseError> {
        let (status, event) = match command {
            Command::Purchase(_) => (201, "Purchased"),
            Command::Activate { .. } => (200, "Activated"),
            Command::Allocate { .. } => (201, "Allocated"),
            Command::Modify { .. } => (200, "Modified"),
            Command::Return { .. } => (200, "Returned"),
            Command::Hide => (200, "Hidden"),
            Command::Unhide => (200, "Unhidden"),
            Command::Renew { .. } => (200, "Renewed"),
            Command::Upgrade { .. } => (200, "Upgraded"),
        };
        let version = self.model.as_ref().map_or(0, |l| l.events) + 1;
        let events: Vec<&Value> = answer.body["events"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        if answer.status != status
            || answer.body["version"] != version
            || events.len() != 1
            || events[0]["type"] != event
        {
            return Err(self.mismatch(format!(
                "the model accepts: {status}, one {event} event, license version {version}"
            )));
        }
        let new_allocation = answer.body["allocation_id"]
            .as_str()
            .map(|id| id.parse::<Uuid>().unwrap());
        let chosen = match &command {
            Command::Allocate { allocation_id, .. } => *allocation_id,
            Command::Modify {
                new_allocation_id, ..
            } => *new_allocation_id,
            _ => None,
        };
        if chosen.is_some() && chosen != new_allocation {
            return Err(self.mismatch(format!("the allocation id chosen was {chosen:?}")));
        }
        self.position = answer.body["position"].as_i64();
        self.model = Some(apply(self.model.take(), &command, new_allocation));
        Ok(())
    }

    /// Reads the license (after the last accepted command) and compares it with the
    /// model.
    async fn check_read_model(&self) -> Result<(), TestCaseError> {
        let (Some(model), Some(position)) = (&self.model, self.position) else {
            let read = self.api.get(&self.license_path()).await.unwrap();
            if read.status != 404 {
                return Err(self.mismatch(format!("never purchased, yet read as {read:?}")));
            }
            return Ok(());
        };
        let read = self
            .api
            .get(&format!("{}?min_position={position}", self.license_path()))
            .await
            .unwrap();
        let allocations: serde_json::Map<String, Value> = model
            .allocations
            .iter()
            .map(|(id, a)| {
                let line = json!({
                    "host": a.host,
                    "quantity": a.quantity,
                    "status": a.status.name(),
                    "replaced_by": a.replaced_by,
                    "file_revision": a.file_revision,
                });
                (id.to_string(), line)
            })
            .collect();
        let expected = json!({
            "status": 200,
            "quantity": model.terms.quantity,
            "allocated": model.allocated(),
            "activated": model.activated,
            "hidden": model.hidden,
            "expires_on": model.terms.expires_on,
            "maintenance_until": model.terms.maintenance_until,
            "edition": model.terms.edition.code(),
            "feature": format!("XDT_{}_UD", model.terms.edition.code()),
            "version": model.terms.version,
            "trial": model.terms.trial,
            "partial_allocation": model.terms.partial_allocation,
            "last_sequence": model.events,
            "allocations": allocations,
        });
        let row = &read.body;
        let mut actual = pick(row, LICENSE_FIELDS);
        actual["status"] = json!(read.status);
        actual["activated"] = json!(!row["activated_at"].is_null());
        actual["allocations"] = row["allocations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let id = a["allocation_id"].as_str().unwrap_or_default().to_owned();
                (id, pick(a, ALLOCATION_FIELDS))
            })
            .collect();
        if actual != expected {
            return Err(self.mismatch(format!(
                "read model differs from the model:\n  read  {actual}\n  model {expected}"
            )));
        }
        Ok(())
    }
}

/// The license row's members the model knows.
const LICENSE_FIELDS: &[&str] = &[
    "quantity",
    "allocated",
    "hidden",
    "expires_on",
    "maintenance_until",
    "edition",
    "feature",
    "version",
    "trial",
    "partial_allocation",
    "last_sequence",
];

/// An allocation's members the model knows.
const ALLOCATION_FIELDS: &[&str] = &["host", "quantity", "status", "replaced_by", "file_revision"];

/// The members `names` of the JSON object `value`.
fn pick(value: &Value, names: &[&str]) -> Value {
    names
        .iter()
        .map(|name| (name.to_string(), value[*name].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn run_case(api: &Api, pool: &PgPool, case: &Case) -> Result<(), TestCaseError> {
    let mut run = Run {
        api,
        pool,
        license_id: Uuid::now_v7(),
        today: Utc::now().date_naive(),
        model: None,
        position: None,
        log: Vec::new(),
    };
    let purchase = Op::Purchase(case.purchase.clone());
    let activate = case.activate.then_some(Op::Activate(Code::Right));
    for op in case
        .before
        .iter()
        .chain([&purchase])
        .chain(&activate)
        .chain(&case.after)
    {
        run.step(op).await?;
    }
    run.check_read_model().await
}

/// Cases to run: `PROPTEST_CASES`, else 24.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(24)
}

#[test]
fn random_command_sequences_get_the_models_answers_and_leave_the_models_license() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let env = TestEnv::fresh();
    let ledger = runtime
        .block_on(Ledger::start(ledger_bin!(), &env, &[]))
        .unwrap();
    let api = Api::new(&ledger);
    let pool = runtime.block_on(env.pool());
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        // Shrinking replays whole cases over HTTP: bound it.
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case_strategy(), |case| {
        runtime.block_on(run_case(&api, &pool, &case))
    });
    runtime.block_on(async {
        drop(ledger);
        env.cleanup().await;
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
