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

/// Builds the steps, each a minute after the one before on its day, so a day's
/// steps keep the order they are written in.
struct Story {
    today: NaiveDate,
    steps: Vec<Step>,
}

impl Story {
    fn on(&mut self, days_ago: u64, license: Key, act: Act) {
        let day = self.today - Days::new(days_ago);
        let same_day = self
            .steps
            .iter()
            .filter(|step| step.at.date_naive() == day)
            .count();
        let at = day.and_time(NaiveTime::MIN).and_utc()
            + TimeDelta::hours(9)
            + TimeDelta::minutes(i64::try_from(same_day).unwrap_or(0));
        self.steps.push(Step { at, license, act });
    }

    fn buy(&mut self, days_ago: u64, license: Key, line: Line) {
        self.on(days_ago, license, Act::Purchase(line));
    }

    fn allocate(
        &mut self,
        days_ago: u64,
        license: Key,
        allocation: &'static str,
        host: &'static str,
        quantity: u32,
    ) {
        let act = Act::Allocate {
            allocation,
            host,
            quantity,
        };
        self.on(days_ago, license, act);
    }
}

/// An order line of `quantity` host-name-bound seats; the rest as given.
#[allow(clippy::too_many_arguments)] // a table row, read as one
fn line(
    product: &'static str,
    edition: Edition,
    version: &'static str,
    model: LicenseModel,
    quantity: u32,
    expires_in: Option<i64>,
    maintenance_in: i64,
    trial: bool,
) -> Line {
    Line {
        product,
        edition,
        version,
        model,
        binding: BindingType::HostName,
        quantity,
        expires_in,
        maintenance_in,
        trial,
        partial: true,
    }
}

/// The whole story as of `today`, in the order the steps are decided.
pub fn steps(today: NaiveDate) -> Vec<Step> {
    use Edition::{Advanced, Enterprise, Platinum, Standard};
    use LicenseModel::{Appliance, ConcurrentUser, PerServer, UserDevice};
    let mut s = Story {
        today,
        steps: Vec::new(),
    };

    // Year one. The seeds' story: 1,000 seats, 800 to one server now and 200
    // to another later; maintenance renewed each year, then a version upgrade.
    let hq = "ORD-100231";
    s.buy(
        1090,
        hq,
        line(
            "XDT", Enterprise, "7.15", UserDevice, 1000, None, -725, false,
        ),
    );
    s.on(1089, hq, Act::Activate);
    s.allocate(1088, hq, "hq-main", HQ, 800);
    s.allocate(1000, hq, "dr-standby", DR, 200);
    let renew_maintenance = |days: i64| Act::Renew {
        expires_in: None,
        maintenance_in: Some(days),
    };
    s.on(730, hq, renew_maintenance(-360));
    s.on(365, hq, renew_maintenance(0));
    s.on(300, hq, Act::UpgradeVersion("7.22"));
    s.on(20, hq, renew_maintenance(365));

    // Concurrent users on a three-year term, expiring in 20 days (red), moved
    // from headquarters to the European server.
    let ccu = "ORD-100245";
    s.buy(
        1075,
        ccu,
        line(
            "XA",
            Advanced,
            "7.15",
            ConcurrentUser,
            250,
            Some(20),
            20,
            false,
        ),
    );
    s.on(1074, ccu, Act::Activate);
    s.allocate(1073, ccu, "ccu-hq", HQ, 250);
    let to_eu = Act::Move {
        allocation: "ccu-hq",
        to_allocation: "ccu-eu",
        host: EU,
    };
    s.on(400, ccu, to_eu);

    // Legacy: a one-year standard edition in the lab, returned and hidden.
    let lab = "ORD-100260";
    s.buy(
        1080,
        lab,
        line(
            "XDT",
            Standard,
            "7.15",
            UserDevice,
            100,
            Some(-715),
            -715,
            false,
        ),
    );
    s.on(1079, lab, Act::Activate);
    s.allocate(1078, lab, "lab-a", LAB, 60);
    s.allocate(1078, lab, "lab-b", LAB, 40);
    s.on(
        720,
        lab,
        Act::Return {
            allocation: "lab-a",
        },
    );
    s.on(
        720,
        lab,
        Act::Return {
            allocation: "lab-b",
        },
    );
    s.on(700, lab, Act::Hide);

    // Legacy: a finished 30-day trial of the platinum edition.
    let trial = "ORD-100270";
    s.buy(
        1060,
        trial,
        line(
            "XDT",
            Platinum,
            "7.15",
            UserDevice,
            25,
            Some(-1030),
            -1030,
            true,
        ),
    );
    s.on(1059, trial, Act::Activate);
    s.allocate(1059, trial, "trial-lab", LAB, 25);
    s.on(
        1031,
        trial,
        Act::Return {
            allocation: "trial-lab",
        },
    );
    s.on(1000, trial, Act::Hide);

    // Legacy: an appliance bound to its MAC address, expired and hidden.
    let appliance = "ORD-100290";
    let mut sdx = line(
        "SDX",
        Platinum,
        "14.1",
        Appliance,
        1,
        Some(-400),
        -400,
        false,
    );
    sdx.binding = BindingType::MacAddress;
    s.buy(1050, appliance, sdx);
    s.on(1049, appliance, Act::Activate);
    s.allocate(1049, appliance, "appliance", APPLIANCE, 1);
    s.on(380, appliance, Act::Hide);

    // Year two. Per-server gateway licenses that cannot be split, expiring in
    // 45 days (orange).
    let adc = "ORD-200110";
    let mut gateways = line("ADC", Platinum, "13.1", PerServer, 4, Some(45), 45, false);
    gateways.partial = false;
    s.buy(700, adc, gateways);
    s.on(699, adc, Act::Activate);
    s.allocate(699, adc, "adc-dr", DR, 4);

    // A second enterprise order for Europe: part returned, part re-allocated,
    // then the edition upgraded (its live files re-issued).
    let eu = "ORD-200140";
    s.buy(
        600,
        eu,
        line(
            "XDT", Enterprise, "7.18", UserDevice, 500, None, -235, false,
        ),
    );
    s.on(599, eu, Act::Activate);
    s.allocate(598, eu, "eu-main", EU, 300);
    s.allocate(598, eu, "eu-dr", DR, 200);
    s.on(240, eu, renew_maintenance(130));
    s.on(
        200,
        eu,
        Act::Return {
            allocation: "eu-dr",
        },
    );
    s.allocate(190, eu, "eu-more", EU, 150);
    s.on(150, eu, Act::UpgradeEdition(Platinum));

    // Legacy: a 60-day trial of concurrent users, never allocated, hidden.
    let ccu_trial = "ORD-200150";
    s.buy(
        500,
        ccu_trial,
        line(
            "XA",
            Advanced,
            "7.15",
            ConcurrentUser,
            50,
            Some(-440),
            -440,
            true,
        ),
    );
    s.on(499, ccu_trial, Act::Activate);
    s.on(480, ccu_trial, Act::Hide);

    // A one-year term renewed before it ran out; hidden by mistake and shown again.
    let term = "ORD-200175";
    s.buy(
        420,
        term,
        line(
            "XDT",
            Enterprise,
            "7.20",
            UserDevice,
            150,
            Some(-55),
            -55,
            false,
        ),
    );
    s.on(419, term, Act::Activate);
    s.allocate(418, term, "term-hq", HQ, 150);
    s.on(100, term, Act::Hide);
    s.on(95, term, Act::Unhide);
    let renewed = Act::Renew {
        expires_in: Some(310),
        maintenance_in: Some(310),
    };
    s.on(60, term, renewed);

    // A standard edition expiring in 9 days (red).
    let std = "ORD-200190";
    s.buy(
        720,
        std,
        line("XDT", Standard, "7.18", UserDevice, 75, Some(9), 9, false),
    );
    s.on(719, std, Act::Activate);
    s.allocate(718, std, "std-dr", DR, 75);

    // Year three. Platinum on a term expiring in 35 days (orange), split over
    // two servers; enterprise expiring in 85 days (orange).
    let plt = "ORD-300010";
    s.buy(
        330,
        plt,
        line(
            "XDT",
            Platinum,
            "7.22",
            UserDevice,
            200,
            Some(35),
            35,
            false,
        ),
    );
    s.on(329, plt, Act::Activate);
    s.allocate(328, plt, "plt-eu", EU, 120);
    s.allocate(328, plt, "plt-hq", HQ, 80);
    let ent = "ORD-300020";
    s.buy(
        365,
        ent,
        line(
            "XDT",
            Enterprise,
            "7.22",
            UserDevice,
            300,
            Some(85),
            85,
            false,
        ),
    );
    s.on(364, ent, Act::Activate);
    s.allocate(363, ent, "ent-hq", HQ, 300);

    // New this month: a trial expiring in 20 days (red), concurrent users partly
    // allocated, gateways not yet activated, enterprise seats not yet allocated.
    let new_trial = "ORD-300090";
    s.buy(
        10,
        new_trial,
        line("XDT", Platinum, "7.22", UserDevice, 10, Some(20), 20, true),
    );
    s.on(10, new_trial, Act::Activate);
    s.allocate(9, new_trial, "new-trial-lab", LAB, 10);
    let new_ccu = "ORD-300100";
    s.buy(
        3,
        new_ccu,
        line(
            "XA",
            Advanced,
            "7.22",
            ConcurrentUser,
            100,
            None,
            362,
            false,
        ),
    );
    s.on(3, new_ccu, Act::Activate);
    s.allocate(2, new_ccu, "new-ccu-eu", EU, 60);
    let new_adc = "ORD-300110";
    let mut new_gateways = line("ADC", Standard, "13.1", PerServer, 2, Some(351), 351, false);
    new_gateways.partial = false;
    s.buy(14, new_adc, new_gateways);
    let new_ent = "ORD-300120";
    s.buy(
        25,
        new_ent,
        line("XDT", Enterprise, "7.22", UserDevice, 50, None, 340, false),
    );
    s.on(24, new_ent, Act::Activate);

    let mut steps = s.steps;
    steps.sort_by_key(|step| step.at);
    steps
}

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
