//! The demo account's story: three years of one customer's licenses, as dated
//! steps counted back from the day it is loaded. Whenever it is loaded, the
//! landing page therefore has new licenses (bought 3 to 25 days before) and term
//! licenses expiring red (9 and 20 days left) and orange (35, 45 and 85 days
//! left); some licenses are hidden legacy ones (an expired standard edition, two
//! finished trials, an expired appliance).
//!
//! Pure: no ids, no I/O. [`super::run`] turns each step into the command the
//! HTTP API would send, decided at the step's instant.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use ledger_domain::{
    BindingType, Edition, LicenseModel, LicenseTerms, ProductCode, ProductVersion, ValueError,
};

/// A license of the story, by a name the steps use (its order number).
pub type Key = &'static str;

/// What an order line says, with dates counted from the day of loading.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Product code.
    pub product: &'static str,
    /// Edition.
    pub edition: Edition,
    /// Product version.
    pub version: &'static str,
    /// How seats are counted.
    pub model: LicenseModel,
    /// What license servers are identified by.
    pub binding: BindingType,
    /// Seats.
    pub quantity: u32,
    /// Days from today to the last valid day (negative: past); none: perpetual.
    pub expires_in: Option<i64>,
    /// Days from today to the last day of maintenance.
    pub maintenance_in: i64,
    /// A trial.
    pub trial: bool,
    /// Whether the quantity may be split across servers.
    pub partial: bool,
}

impl Line {
    /// The terms of `license` bought at `at`, its dates counted from `today`.
    pub fn terms(
        &self,
        license: Key,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<LicenseTerms, ValueError> {
        Ok(LicenseTerms {
            product: ProductCode::parse(self.product)?,
            edition: self.edition,
            version: ProductVersion::parse(self.version)?,
            license_model: self.model,
            binding_type: self.binding,
            quantity: self.quantity,
            expires_on: self.expires_in.map(|days| day_in(today, days)),
            maintenance_until: day_in(today, self.maintenance_in),
            order_number: license.to_owned(),
            access_code: access_code(license),
            trial: self.trial,
            partial_allocation: self.partial,
            purchased_at: at,
        })
    }
}

/// What a step does to its license.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// Bought, with this order line.
    Purchase(Line),
    /// Activated with its access code.
    Activate,
    /// Seats allocated to a server; `allocation` names them for later steps.
    Allocate {
        /// The allocation's name within the license.
        allocation: &'static str,
        /// The license server.
        host: &'static str,
        /// Seats.
        quantity: u32,
    },
    /// An allocation moved whole to another server, under a new name.
    Move {
        /// The allocation moved.
        allocation: &'static str,
        /// Its replacement's name.
        to_allocation: &'static str,
        /// The new server.
        host: &'static str,
    },
    /// An allocation returned to the pool.
    Return {
        /// The allocation.
        allocation: &'static str,
    },
    /// Hidden from view.
    Hide,
    /// Shown again.
    Unhide,
    /// Dates moved on, in days from today.
    Renew {
        /// New last valid day.
        expires_in: Option<i64>,
        /// New last day of maintenance.
        maintenance_in: Option<i64>,
    },
    /// A higher edition.
    UpgradeEdition(Edition),
    /// A newer version.
    UpgradeVersion(&'static str),
}

/// One dated step of one license.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When it is decided.
    pub at: DateTime<Utc>,
    /// Whose step.
    pub license: Key,
    /// What it does.
    pub act: Act,
}

/// The license servers: headquarters, disaster recovery, Europe, a lab, and an
/// appliance bound to its MAC address.
pub const HQ: &str = "CTXLIC-HQ01";
/// See [`HQ`].
pub const DR: &str = "CTXLIC-DR02";
/// See [`HQ`].
pub const EU: &str = "CTXLIC-EU01";
/// See [`HQ`].
pub const LAB: &str = "CTXLIC-LAB";
/// See [`HQ`].
pub const APPLIANCE: &str = "0a1b2c3d4e5f";

/// The servers that report their daily usage.
pub const REPORTING: [&str; 3] = [HQ, DR, EU];

/// How many days back usage is reported, up to yesterday.
pub const USAGE_DAYS: u64 = 45;

/// An order line, its fields in the order [`Line`] lists them.
#[allow(clippy::too_many_arguments)] // a row of the table below, read as one
const fn line(
    product: &'static str,
    edition: Edition,
    version: &'static str,
    model: LicenseModel,
    binding: BindingType,
    quantity: u32,
    expires_in: Option<i64>,
    maintenance_in: i64,
    trial: bool,
    partial: bool,
) -> Line {
    Line {
        product,
        edition,
        version,
        model,
        binding,
        quantity,
        expires_in,
        maintenance_in,
        trial,
        partial,
    }
}

/// The order lines, one a row: order number (the license's name in the story),
/// days ago bought, then product, edition, version, license model, binding,
/// seats, days to expiry (none: perpetual; negative: expired), days to the end
/// of maintenance, trial, and whether it may be split across servers.
#[rustfmt::skip]
const ORDERS: [(Key, u64, Line); 16] = {
    use BindingType::{HostName as NAME, MacAddress as MAC};
    use Edition::{Advanced as ADV, Enterprise as ENT, Platinum as PLT, Standard as STD};
    use LicenseModel::{Appliance as APP, ConcurrentUser as CCU, PerServer as SRV, UserDevice as UD};
    [
        // Year one: the seeds' 1,000 seats; concurrent users on a three-year term
        // (20 days left: red); legacy a one-year standard edition, a 30-day trial
        // and an appliance bound to its MAC address, all expired.
        ("ORD-100231", 1090, line("XDT", ENT, "7.15", UD,  NAME, 1000, None,         -725, false, true)),
        ("ORD-100245", 1075, line("XA",  ADV, "7.15", CCU, NAME,  250, Some(20),       20, false, true)),
        ("ORD-100260", 1080, line("XDT", STD, "7.15", UD,  NAME,  100, Some(-715),   -715, false, true)),
        ("ORD-100270", 1060, line("XDT", PLT, "7.15", UD,  NAME,   25, Some(-1030), -1030, true,  true)),
        ("ORD-100290", 1050, line("SDX", PLT, "14.1", APP, MAC,     1, Some(-400),   -400, false, true)),
        // Year two: gateways that cannot be split (45 days left: orange); a second
        // enterprise order for Europe; a 60-day trial, expired; a one-year term
        // renewed before it ran out; a standard edition with 9 days left (red).
        ("ORD-200110",  700, line("ADC", PLT, "13.1", SRV, NAME,    4, Some(45),       45, false, false)),
        ("ORD-200140",  600, line("XDT", ENT, "7.18", UD,  NAME,  500, None,         -235, false, true)),
        ("ORD-200150",  500, line("XA",  ADV, "7.15", CCU, NAME,   50, Some(-440),   -440, true,  true)),
        ("ORD-200175",  420, line("XDT", ENT, "7.20", UD,  NAME,  150, Some(-55),     -55, false, true)),
        ("ORD-200190",  720, line("XDT", STD, "7.18", UD,  NAME,   75, Some(9),         9, false, true)),
        // Year three: platinum and enterprise terms with 35 and 85 days left
        // (orange); this month a trial with 20 days left (red), concurrent users,
        // gateways and enterprise seats.
        ("ORD-300010",  330, line("XDT", PLT, "7.22", UD,  NAME,  200, Some(35),       35, false, true)),
        ("ORD-300020",  365, line("XDT", ENT, "7.22", UD,  NAME,  300, Some(85),       85, false, true)),
        ("ORD-300090",   10, line("XDT", PLT, "7.22", UD,  NAME,   10, Some(20),       20, true,  true)),
        ("ORD-300100",    3, line("XA",  ADV, "7.22", CCU, NAME,  100, None,          362, false, true)),
        ("ORD-300110",   14, line("ADC", STD, "13.1", SRV, NAME,    2, Some(351),     351, false, false)),
        ("ORD-300120",   25, line("XDT", ENT, "7.22", UD,  NAME,   50, None,          340, false, true)),
    ]
};

const fn allocate(allocation: &'static str, host: &'static str, quantity: u32) -> Act {
    Act::Allocate {
        allocation,
        host,
        quantity,
    }
}

const fn move_to(allocation: &'static str, to_allocation: &'static str, host: &'static str) -> Act {
    Act::Move {
        allocation,
        to_allocation,
        host,
    }
}

const fn give_back(allocation: &'static str) -> Act {
    Act::Return { allocation }
}

const fn maintenance(days: i64) -> Act {
    Act::Renew {
        expires_in: None,
        maintenance_in: Some(days),
    }
}

/// What happens to the licenses after they are bought, one step a row: days
/// ago, order, act. Every license is activated the day after it is bought
/// (those bought this month the same day), but ORD-300110, not yet activated.
#[rustfmt::skip]
fn acts() -> Vec<(u64, Key, Act)> {
    use Act::{Hide, Unhide, UpgradeEdition, UpgradeVersion};
    vec![
        // 800 seats to one server now and 200 to another later; maintenance
        // renewed each year; a version upgrade while it is current.
        (1088, "ORD-100231", allocate("hq-main", HQ, 800)),
        (1000, "ORD-100231", allocate("dr-standby", DR, 200)),
        (730,  "ORD-100231", maintenance(-360)),
        (365,  "ORD-100231", maintenance(0)),
        (300,  "ORD-100231", UpgradeVersion("7.22")),
        (20,   "ORD-100231", maintenance(365)),
        // Moved whole from headquarters to the European server.
        (1073, "ORD-100245", allocate("ccu-hq", HQ, 250)),
        (400,  "ORD-100245", move_to("ccu-hq", "ccu-eu", EU)),
        // Legacy: allocated in the lab, returned, hidden.
        (1078, "ORD-100260", allocate("lab-a", LAB, 60)),
        (1078, "ORD-100260", allocate("lab-b", LAB, 40)),
        (720,  "ORD-100260", give_back("lab-a")),
        (720,  "ORD-100260", give_back("lab-b")),
        (700,  "ORD-100260", Hide),
        (1059, "ORD-100270", allocate("trial-lab", LAB, 25)),
        (1031, "ORD-100270", give_back("trial-lab")),
        (1000, "ORD-100270", Hide),
        (1049, "ORD-100290", allocate("appliance", APPLIANCE, 1)),
        (380,  "ORD-100290", Hide),
        // The gateways, whole.
        (699,  "ORD-200110", allocate("adc-dr", DR, 4)),
        // Part returned, part re-allocated, then the edition upgraded (its live
        // files re-issued).
        (598,  "ORD-200140", allocate("eu-main", EU, 300)),
        (598,  "ORD-200140", allocate("eu-dr", DR, 200)),
        (240,  "ORD-200140", maintenance(130)),
        (200,  "ORD-200140", give_back("eu-dr")),
        (190,  "ORD-200140", allocate("eu-more", EU, 150)),
        (150,  "ORD-200140", UpgradeEdition(Edition::Platinum)),
        // A trial never allocated, hidden.
        (480,  "ORD-200150", Hide),
        // Hidden by mistake and shown again; renewed before it ran out.
        (418,  "ORD-200175", allocate("term-hq", HQ, 150)),
        (100,  "ORD-200175", Hide),
        (95,   "ORD-200175", Unhide),
        (60,   "ORD-200175", Act::Renew { expires_in: Some(310), maintenance_in: Some(310) }),
        (718,  "ORD-200190", allocate("std-dr", DR, 75)),
        // Split over two servers.
        (328,  "ORD-300010", allocate("plt-eu", EU, 120)),
        (328,  "ORD-300010", allocate("plt-hq", HQ, 80)),
        (363,  "ORD-300020", allocate("ent-hq", HQ, 300)),
        // This month: the trial in the lab, concurrent users partly allocated,
        // the enterprise seats not yet.
        (9,    "ORD-300090", allocate("new-trial-lab", LAB, 10)),
        (2,    "ORD-300100", allocate("new-ccu-eu", EU, 60)),
    ]
}

/// The whole story as of `today`, in the order the steps are decided: each at
/// 09:00 on its day, a minute after the one before it on that day (purchases
/// first, then activations, then the rows of [`acts`] in order).
pub fn steps(today: NaiveDate) -> Vec<Step> {
    let mut dated: Vec<(u64, Key, Act)> = Vec::new();
    for (license, days_ago, line) in ORDERS {
        dated.push((days_ago, license, Act::Purchase(line)));
    }
    for (license, days_ago, ..) in ORDERS {
        if license == NOT_ACTIVATED {
            continue;
        }
        let activated = if days_ago <= 30 {
            days_ago
        } else {
            days_ago - 1
        };
        dated.push((activated, license, Act::Activate));
    }
    dated.extend(acts());
    // Oldest first; the same day keeps the order above (a stable sort).
    dated.sort_by_key(|(days_ago, ..)| std::cmp::Reverse(*days_ago));
    let mut steps: Vec<Step> = Vec::with_capacity(dated.len());
    for (days_ago, license, act) in dated {
        let day = today - Days::new(days_ago);
        let same_day = steps.iter().filter(|s| s.at.date_naive() == day).count();
        let at = day.and_time(NaiveTime::MIN).and_utc()
            + TimeDelta::hours(9)
            + TimeDelta::minutes(i64::try_from(same_day).unwrap_or(0));
        steps.push(Step { at, license, act });
    }
    steps
}

/// The order bought this month and not yet activated.
const NOT_ACTIVATED: Key = "ORD-300110";

/// The access code of `license`: printed on its order confirmation.
pub fn access_code(license: Key) -> String {
    format!("LA-{}-{:05}", license.trim_start_matches("ORD-"), 1)
}

/// `today` moved by `days` (negative: back).
pub fn day_in(today: NaiveDate, days: i64) -> NaiveDate {
    let moved = if days >= 0 {
        today.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        today.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    moved.unwrap_or(today)
}
