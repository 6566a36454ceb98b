//! The oracle: a deliberately simple model of one license, written from the
//! README's rule table alone (not from `ledger_domain`). `decide` says whether
//! the ledger must accept a command and, if not, every answer it may give: when a
//! command breaks several rules at once the README does not say which one is
//! reported, so any of them is right. `apply` changes the model as an accepted
//! command must change the license.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// Editions in rank order: upgrades only go up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Edition {
    Std,
    Adv,
    Ent,
    Plt,
}

impl Edition {
    /// The wire code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Std => "STD",
            Self::Adv => "ADV",
            Self::Ent => "ENT",
            Self::Plt => "PLT",
        }
    }
}

/// What allocations are bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    HostName,
    MacAddress,
}

/// A license server id, with whether it is valid for each binding type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub id: &'static str,
    pub valid_host_name: bool,
    pub valid_mac: bool,
}

impl Host {
    fn valid_for(self, binding: Binding) -> bool {
        match binding {
            Binding::HostName => self.valid_host_name,
            Binding::MacAddress => self.valid_mac,
        }
    }

    /// The id as recorded: host names exactly as given, MAC addresses in lower
    /// case (one server, whatever case it was written in).
    pub fn recorded(self, binding: Binding) -> String {
        match binding {
            Binding::HostName => self.id.to_owned(),
            Binding::MacAddress => self.id.to_ascii_lowercase(),
        }
    }
}

/// Where an allocation stands; only live ones hold seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Live,
    Moved,
    Returned,
}

impl Status {
    /// The read model's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Moved => "moved",
            Self::Returned => "returned",
        }
    }
}

/// One allocation of seats to one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub host: String,
    pub quantity: u32,
    pub status: Status,
    /// The allocation that replaced it, once moved.
    pub replaced_by: Option<Uuid>,
    /// The license version its current file was issued at: when it was made, or
    /// the last renewal or upgrade while it was live (both change the file).
    pub file_revision: i64,
}

/// A purchase as the ledger decides it (after the body parsed).
#[derive(Debug, Clone)]
pub struct Purchase {
    pub quantity: u32,
    pub edition: Edition,
    pub version: &'static str,
    pub binding: Binding,
    pub expires_on: Option<NaiveDate>,
    pub maintenance_until: NaiveDate,
    pub order_number: String,
    pub access_code: String,
    pub trial: bool,
    pub partial_allocation: bool,
    /// `None`: now.
    pub purchased_at: Option<DateTime<Utc>>,
}

/// A command as the ledger decides it.
#[derive(Debug, Clone)]
pub enum Command {
    Purchase(Purchase),
    Activate {
        access_code: String,
    },
    Allocate {
        /// `None`: the ledger chooses.
        allocation_id: Option<Uuid>,
        host: Host,
        quantity: u32,
    },
    Modify {
        allocation_id: Uuid,
        new_allocation_id: Option<Uuid>,
        new_host: Host,
    },
    Return {
        allocation_id: Uuid,
    },
    Hide,
    Unhide,
    Renew {
        expires_on: Option<NaiveDate>,
        maintenance_until: Option<NaiveDate>,
    },
    Upgrade {
        edition: Option<Edition>,
        version: Option<&'static str>,
    },
}

/// One answer the ledger may give to a refused command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    /// The problem's `rule` (422s).
    pub rule: Option<&'static str>,
    /// The problem's `field` (400s), when the model knows it.
    pub field: Option<&'static str>,
}

impl Refusal {
    /// A 422 naming `rule`.
    pub fn rule(rule: &'static str) -> Self {
        Self {
            status: 422,
            rule: Some(rule),
            field: None,
        }
    }

    /// A 400 naming `field`.
    pub fn field(field: &'static str) -> Self {
        Self {
            status: 400,
            rule: None,
            field: Some(field),
        }
    }

    /// A status alone (404, 409, 415, a 400 whose field is not checked).
    pub fn status(status: u16) -> Self {
        Self {
            status,
            rule: None,
            field: None,
        }
    }
}

/// The most seats one license line may hold.
const MAX_QUANTITY: u32 = 100_000_000;

/// The model of one license.
#[derive(Debug, Clone)]
pub struct License {
    /// As purchased, then renewed and upgraded.
    pub terms: Purchase,
    pub activated: bool,
    pub hidden: bool,
    pub allocations: BTreeMap<Uuid, Allocation>,
    /// Allocation ids in the order they were made.
    pub allocation_order: Vec<Uuid>,
    /// Events recorded: the license's version.
    pub events: i64,
}

impl License {
    /// Seats on live allocations.
    pub fn allocated(&self) -> u32 {
        self.allocations
            .values()
            .filter(|a| a.status == Status::Live)
            .map(|a| a.quantity)
            .sum()
    }

    /// Seats left to allocate.
    pub fn unallocated(&self) -> u32 {
        self.terms.quantity - self.allocated()
    }

    /// Valid through its expiry day, expired from the next.
    fn expired(&self, today: NaiveDate) -> bool {
        self.terms.expires_on.is_some_and(|last| today > last)
    }
}

/// `7.15` vs `7.9`: part by part as numbers, missing parts counting as 0.
pub fn version_above(a: &str, b: &str) -> bool {
    let numbers = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    let (a, b) = (numbers(a), numbers(b));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x > y;
        }
    }
    false
}

/// The last date a license may carry.
pub fn latest_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()
}

/// "Printable" as in the README, read as visible ASCII: references end up in
/// space-separated license file fields.
fn reference_ok(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Every answer the README allows for `command` on `license` (`None`: never
/// purchased) at `now`: `Ok` if it must be accepted, else the refusals allowed.
pub fn decide(
    license: Option<&License>,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<(), Vec<Refusal>> {
    let today = now.date_naive();
    let mut broken = Vec::new();
    let mut refuse = |when: bool, refusal: Refusal| {
        if when {
            broken.push(refusal);
        }
    };
    match (license, command) {
        (None, Command::Purchase(p)) => {
            let purchased_at = p.purchased_at.unwrap_or(now);
            refuse(purchased_at > now, Refusal::field("purchased_at"));
            refuse(p.quantity == 0, Refusal::rule("quantity-must-be-positive"));
            refuse(
                p.quantity > MAX_QUANTITY,
                Refusal::rule("quantity-too-large"),
            );
            refuse(
                p.trial && p.expires_on.is_none(),
                Refusal::rule("trial-needs-expiry"),
            );
            refuse(
                !reference_ok(&p.order_number) || !reference_ok(&p.access_code),
                Refusal::rule("invalid-reference"),
            );
            refuse(
                p.expires_on
                    .is_some_and(|expiry| expiry <= purchased_at.date_naive()),
                Refusal::rule("expiry-not-after-purchase"),
            );
        }
        (None, _) => refuse(true, Refusal::status(404)),
        (Some(_), Command::Purchase(p)) => {
            refuse(true, Refusal::status(409));
            // The gateway may look at the instant before the ledger looks at the id.
            refuse(
                p.purchased_at.is_some_and(|at| at > now),
                Refusal::field("purchased_at"),
            );
        }
        (Some(l), Command::Activate { access_code }) => {
            refuse(l.activated, Refusal::rule("already-activated"));
            refuse(
                *access_code != l.terms.access_code,
                Refusal::rule("access-code-mismatch"),
            );
        }
        (
            Some(l),
            Command::Allocate {
                allocation_id,
                host,
                quantity,
            },
        ) => {
            refuse(!l.activated, Refusal::rule("not-activated"));
            refuse(l.expired(today), Refusal::rule("license-expired"));
            refuse(*quantity == 0, Refusal::rule("quantity-must-be-positive"));
            refuse(
                *quantity > l.unallocated(),
                Refusal::rule("allocation-exceeds-available"),
            );
            refuse(
                !l.terms.partial_allocation && *quantity != l.terms.quantity,
                Refusal::rule("partial-allocation-not-allowed"),
            );
            refuse(
                !host.valid_for(l.terms.binding),
                Refusal::rule("invalid-host-id"),
            );
            refuse(
                allocation_id.is_some_and(|id| l.allocations.contains_key(&id)),
                Refusal::rule("duplicate-allocation-id"),
            );
        }
        (
            Some(l),
            Command::Modify {
                allocation_id,
                new_allocation_id,
                new_host,
            },
        ) => {
            let allocation = l.allocations.get(allocation_id);
            refuse(allocation.is_none(), Refusal::status(404));
            refuse(
                allocation.is_some_and(|a| a.status != Status::Live),
                Refusal::rule("allocation-not-live"),
            );
            refuse(l.expired(today), Refusal::rule("license-expired"));
            refuse(
                !new_host.valid_for(l.terms.binding),
                Refusal::rule("invalid-host-id"),
            );
            refuse(
                allocation.is_some_and(|a| a.host == new_host.recorded(l.terms.binding)),
                Refusal::rule("same-host"),
            );
            refuse(
                new_allocation_id.is_some_and(|id| l.allocations.contains_key(&id)),
                Refusal::rule("duplicate-allocation-id"),
            );
        }
        (Some(l), Command::Return { allocation_id }) => {
            let allocation = l.allocations.get(allocation_id);
            refuse(allocation.is_none(), Refusal::status(404));
            refuse(
                allocation.is_some_and(|a| a.status != Status::Live),
                Refusal::rule("allocation-not-live"),
            );
        }
        (Some(l), Command::Hide) => refuse(l.hidden, Refusal::rule("already-hidden")),
        (Some(l), Command::Unhide) => refuse(!l.hidden, Refusal::rule("not-hidden")),
        (
            Some(l),
            Command::Renew {
                expires_on,
                maintenance_until,
            },
        ) => {
            refuse(
                expires_on.is_none() && maintenance_until.is_none(),
                Refusal::rule("nothing-to-renew"),
            );
            for (field, date) in [
                ("expires_on", expires_on),
                ("maintenance_until", maintenance_until),
            ] {
                // Out of range: a value that does not parse, or a broken rule.
                if date.is_some_and(|date| date > latest_date()) {
                    refuse(true, Refusal::field(field));
                    refuse(true, Refusal::rule("date-out-of-range"));
                }
            }
            if let Some(requested) = expires_on {
                match l.terms.expires_on {
                    None => refuse(true, Refusal::rule("perpetual-has-no-expiry")),
                    Some(current) => refuse(
                        *requested <= current,
                        Refusal::rule("date-must-move-forward"),
                    ),
                }
            }
            refuse(
                maintenance_until.is_some_and(|requested| requested <= l.terms.maintenance_until),
                Refusal::rule("date-must-move-forward"),
            );
        }
        (Some(l), Command::Upgrade { edition, version }) => {
            refuse(
                edition.is_none() && version.is_none(),
                Refusal::rule("nothing-to-upgrade"),
            );
            refuse(l.expired(today), Refusal::rule("license-expired"));
            refuse(
                edition.is_some_and(|e| e <= l.terms.edition),
                Refusal::rule("edition-not-higher"),
            );
            refuse(
                version.is_some_and(|v| !version_above(v, l.terms.version)),
                Refusal::rule("version-not-higher"),
            );
            refuse(
                version.is_some() && l.terms.maintenance_until < today,
                Refusal::rule("maintenance-lapsed"),
            );
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken)
    }
}

/// The license after an accepted `command`; `new_allocation` is the id of the
/// allocation it created, if any (from the ledger's answer when it chose it).
pub fn apply(license: Option<License>, command: &Command, new_allocation: Option<Uuid>) -> License {
    let Some(mut l) = license else {
        let Command::Purchase(p) = command else {
            panic!("only a purchase starts a license");
        };
        return License {
            terms: p.clone(),
            activated: false,
            hidden: false,
            allocations: BTreeMap::new(),
            allocation_order: Vec::new(),
            events: 1,
        };
    };
    l.events += 1;
    let add = |l: &mut License, host: Host, quantity: u32| {
        let host = host.recorded(l.terms.binding);
        let id = new_allocation.expect("the new allocation's id");
        l.allocations.insert(
            id,
            Allocation {
                host,
                quantity,
                status: Status::Live,
                replaced_by: None,
                file_revision: l.events,
            },
        );
        l.allocation_order.push(id);
    };
    let reissue = |l: &mut License| {
        for allocation in l.allocations.values_mut() {
            if allocation.status == Status::Live {
                allocation.file_revision = l.events;
            }
        }
    };
    match command {
        Command::Purchase(_) => panic!("a license is purchased once"),
        Command::Activate { .. } => l.activated = true,
        Command::Allocate { host, quantity, .. } => add(&mut l, *host, *quantity),
        Command::Modify {
            allocation_id,
            new_host,
            ..
        } => {
            let old = l
                .allocations
                .get_mut(allocation_id)
                .expect("a live allocation");
            old.status = Status::Moved;
            old.replaced_by = new_allocation;
            let quantity = old.quantity;
            add(&mut l, *new_host, quantity);
        }
        Command::Return { allocation_id } => {
            l.allocations
                .get_mut(allocation_id)
                .expect("a live allocation")
                .status = Status::Returned;
        }
        Command::Hide => l.hidden = true,
        Command::Unhide => l.hidden = false,
        Command::Renew {
            expires_on,
            maintenance_until,
        } => {
            l.terms.expires_on = expires_on.or(l.terms.expires_on);
            l.terms.maintenance_until = maintenance_until.unwrap_or(l.terms.maintenance_until);
            reissue(&mut l);
        }
        Command::Upgrade { edition, version } => {
            l.terms.edition = edition.unwrap_or(l.terms.edition);
            l.terms.version = version.unwrap_or(l.terms.version);
            reissue(&mut l);
        }
    }
    l
}
