//! The licenses read model as a pure fold: one license row plus its allocation rows,
//! changed by one streamed event at a time. No I/O: [`crate::writer`] loads and
//! saves the rows around it.
//!
//! Applying is idempotent per license: an event at or below the row's
//! `last_sequence` was applied already and changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::events::LicenseEvent;
use ledger_domain::values::LicenseModel;
use uuid::Uuid;

use crate::contract::StreamedEvent;

/// A row of `read_model.licenses`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LicenseRow {
    /// The license.
    pub license_id: Uuid,
    /// The owning account.
    pub account_id: Uuid,
    /// Product code.
    pub product: String,
    /// Edition code.
    pub edition: String,
    /// Product version.
    pub version: String,
    /// License model wire name.
    pub license_model: String,
    /// Binding type wire name.
    pub binding_type: String,
    /// Feature name, e.g. `XDT_ENT_UD`.
    pub feature: String,
    /// Seats purchased.
    pub quantity: i32,
    /// Seats on live allocations.
    pub allocated: i32,
    /// Last valid day; `None` for perpetual.
    pub expires_on: Option<NaiveDate>,
    /// Last day of maintenance.
    pub maintenance_until: NaiveDate,
    /// Order number.
    pub order_number: String,
    /// License access code.
    pub access_code: String,
    /// Trial license.
    pub trial: bool,
    /// Whether the quantity may be split.
    pub partial_allocation: bool,
    /// Hidden from default views.
    pub hidden: bool,
    /// When it was purchased.
    pub purchased_at: DateTime<Utc>,
    /// When it was activated.
    pub activated_at: Option<DateTime<Utc>>,
    /// The license's version: its last applied event sequence.
    pub last_sequence: i64,
    /// Global position of that event.
    pub last_position: i64,
    /// When that event occurred.
    pub updated_at: DateTime<Utc>,
}

/// A row of `read_model.license_allocations`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AllocationRow {
    /// The allocation.
    pub allocation_id: Uuid,
    /// Its license.
    pub license_id: Uuid,
    /// The owning account.
    pub account_id: Uuid,
    /// The license server.
    pub host: String,
    /// Seats.
    pub quantity: i32,
    /// `live`, `moved` or `returned`.
    pub status: String,
    /// For a moved allocation, the one that replaced it.
    pub replaced_by: Option<Uuid>,
    /// When it was made.
    pub allocated_at: DateTime<Utc>,
    /// When it stopped being live.
    pub ended_at: Option<DateTime<Utc>>,
    /// The license version at which its current license file was issued.
    pub file_revision: i64,
    /// When that file was issued: its ISSUED date, and what picks its signing key.
    pub file_issued_at: DateTime<Utc>,
    /// Every revision of its license file ever issued, oldest first; the last is
    /// `file_revision`. An earlier one is a void file, not an unknown one.
    pub file_revisions: Vec<i64>,
}

impl AllocationRow {
    /// A new license file for this allocation, at license version `revision`.
    fn issue_file(&mut self, revision: i64, at: DateTime<Utc>) {
        self.file_revision = revision;
        self.file_issued_at = at;
        self.file_revisions.push(revision);
    }
}

/// One license's rows, as loaded, and which of them an event batch changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LicenseView {
    /// The license row, once purchased.
    pub license: Option<LicenseRow>,
    /// Its allocations by id.
    pub allocations: BTreeMap<Uuid, AllocationRow>,
    /// Allocation ids changed since loading.
    pub changed_allocations: BTreeSet<Uuid>,
    /// Whether the license row changed since loading.
    pub changed: bool,
    /// The stream order, `(transaction_id, global_position)`, of the last event
    /// applied since loading: what moves its account's page version.
    pub applied_at: Option<(i64, i64)>,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The rows changed.
    Changed,
    /// The event was applied before (a redelivery or a duplicate); nothing changed.
    AlreadyApplied,
}

/// An event that cannot be applied to the rows as they are: it means the stream
/// lost or reordered something, so the event is set aside, not guessed at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// An event other than `Purchased` for a license with no row.
    #[error("{event_type} for license {license_id}, which was never purchased here")]
    NotPurchased {
        /// The license.
        license_id: Uuid,
        /// The event.
        event_type: &'static str,
    },
    /// The event skips over sequences the row has not seen.
    #[error("license {license_id} is at sequence {at}, the event is {sequence}")]
    SequenceGap {
        /// The license.
        license_id: Uuid,
        /// The row's last sequence.
        at: i64,
        /// The event's sequence.
        sequence: i64,
    },
    /// An event naming an allocation the rows do not have.
    #[error("allocation {0} is unknown")]
    UnknownAllocation(Uuid),
}

fn feature(product: &str, edition: &str, model: &str) -> String {
    let suffix = LicenseModel::parse(model)
        .map(LicenseModel::feature_suffix)
        .unwrap_or("X");
    format!("{product}_{edition}_{suffix}")
}

impl LicenseView {
    /// Applies one event.
    pub fn apply(&mut self, streamed: &StreamedEvent) -> Result<Applied, ApplyError> {
        let license_id = streamed.license_id.0;
        let event_type = streamed.event.name();
        match &self.license {
            Some(row) if streamed.sequence <= row.last_sequence => {
                return Ok(Applied::AlreadyApplied)
            }
            Some(row) if streamed.sequence != row.last_sequence + 1 => {
                return Err(ApplyError::SequenceGap {
                    license_id,
                    at: row.last_sequence,
                    sequence: streamed.sequence,
                })
            }
            None if !matches!(streamed.event, LicenseEvent::Purchased(_)) => {
                return Err(ApplyError::NotPurchased {
                    license_id,
                    event_type,
                })
            }
            _ => {}
        }
        if let LicenseEvent::Purchased(p) = &streamed.event {
            self.license = Some(LicenseRow {
                license_id,
                account_id: streamed.account_id.0,
                product: p.terms.product.to_string(),
                edition: p.terms.edition.code().to_owned(),
                version: p.terms.version.to_string(),
                license_model: p.terms.license_model.as_str().to_owned(),
                binding_type: p.terms.binding_type.as_str().to_owned(),
                feature: feature(
                    p.terms.product.as_str(),
                    p.terms.edition.code(),
                    p.terms.license_model.as_str(),
                ),
                quantity: clamp(p.terms.quantity),
                allocated: 0,
                expires_on: p.terms.expires_on,
                maintenance_until: p.terms.maintenance_until,
                order_number: p.terms.order_number.clone(),
                access_code: p.terms.access_code.clone(),
                trial: p.terms.trial,
                partial_allocation: p.terms.partial_allocation,
                hidden: false,
                purchased_at: p.terms.purchased_at,
                activated_at: None,
                last_sequence: 0,
                last_position: 0,
                updated_at: streamed.occurred_at,
            });
        }
        self.apply_to_allocations(streamed)?;
        let allocated: i64 = self
            .allocations
            .values()
            .filter(|a| a.status == "live")
            .map(|a| i64::from(a.quantity))
            .sum();
        let Some(row) = self.license.as_mut() else {
            return Err(ApplyError::NotPurchased {
                license_id,
                event_type,
            });
        };
        match &streamed.event {
            LicenseEvent::Activated(a) => row.activated_at = Some(a.activated_at),
            LicenseEvent::Hidden(_) => row.hidden = true,
            LicenseEvent::Unhidden(_) => row.hidden = false,
            LicenseEvent::Renewed(r) => {
                row.expires_on = r.expires_on.or(row.expires_on);
                row.maintenance_until = r.maintenance_until.unwrap_or(row.maintenance_until);
            }
            LicenseEvent::Upgraded(u) => {
                if let Some(edition) = u.to_edition {
                    row.edition = edition.code().to_owned();
                    row.feature = feature(&row.product, &row.edition, &row.license_model);
                }
                if let Some(version) = &u.to_version {
                    row.version = version.to_string();
                }
            }
            _ => {}
        }
        row.allocated = i32::try_from(allocated).unwrap_or(i32::MAX);
        row.last_sequence = streamed.sequence;
        row.last_position = streamed.global_position;
        row.updated_at = streamed.occurred_at;
        self.changed = true;
        self.applied_at = Some((streamed.transaction_id, streamed.global_position));
        Ok(Applied::Changed)
    }

    fn apply_to_allocations(&mut self, streamed: &StreamedEvent) -> Result<(), ApplyError> {
        let at = streamed.occurred_at;
        let new_row = |allocation_id: Uuid, host: &str, quantity: u32| AllocationRow {
            allocation_id,
            license_id: streamed.license_id.0,
            account_id: streamed.account_id.0,
            host: host.to_owned(),
            quantity: clamp(quantity),
            status: "live".to_owned(),
            replaced_by: None,
            allocated_at: at,
            ended_at: None,
            file_revision: streamed.sequence,
            file_issued_at: at,
            file_revisions: vec![streamed.sequence],
        };
        match &streamed.event {
            LicenseEvent::Allocated(a) => {
                let id = a.allocation_id.0;
                self.allocations
                    .insert(id, new_row(id, a.host.as_str(), a.quantity));
                self.changed_allocations.insert(id);
            }
            LicenseEvent::Modified(m) => {
                let (old_id, new_id) = (m.allocation_id.0, m.new_allocation_id.0);
                self.end_allocation(old_id, "moved", Some(new_id), at)?;
                self.allocations
                    .insert(new_id, new_row(new_id, m.to_host.as_str(), m.quantity));
                self.changed_allocations.insert(new_id);
            }
            LicenseEvent::Returned(r) => {
                self.end_allocation(r.allocation_id.0, "returned", None, at)?;
            }
            // New dates or a new edition/version mean new files for live allocations.
            LicenseEvent::Renewed(_) | LicenseEvent::Upgraded(_) => {
                for allocation in self.allocations.values_mut() {
                    if allocation.status == "live" {
                        allocation.issue_file(streamed.sequence, at);
                        self.changed_allocations.insert(allocation.allocation_id);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end_allocation(
        &mut self,
        id: Uuid,
        status: &str,
        replaced_by: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<(), ApplyError> {
        let allocation = self
            .allocations
            .get_mut(&id)
            .ok_or(ApplyError::UnknownAllocation(id))?;
        allocation.status = status.to_owned();
        allocation.replaced_by = replaced_by;
        allocation.ended_at = Some(at);
        self.changed_allocations.insert(id);
        Ok(())
    }
}

/// Quantities are `u32` in the domain and `integer` in SQL; the domain never
/// produces more than `i32::MAX` seats in practice, and saturating keeps the row valid.
fn clamp(quantity: u32) -> i32 {
    i32::try_from(quantity).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ledger_domain::events::{
        Allocated, Hidden, Modified, Purchased, Renewed, Returned, Upgraded,
    };
    use ledger_domain::values::*;
    use ledger_domain::LicenseTerms;

    const LICENSE: &str = "0190f4c2-0000-7000-8000-000000000001";
    const ACCOUNT: &str = "0190f4c2-0000-7000-8000-0000000000aa";

    fn streamed(sequence: i64, event: LicenseEvent) -> StreamedEvent {
        streamed_at("2026-11-22T10:00:00Z", sequence, event)
    }

    fn streamed_at(occurred_at: &str, sequence: i64, event: LicenseEvent) -> StreamedEvent {
        StreamedEvent {
            stream_sequence: sequence as u64,
            license_id: LICENSE.parse().unwrap(),
            account_id: ACCOUNT.parse().unwrap(),
            sequence,
            global_position: 100 + sequence,
            transaction_id: 1,
            occurred_at: occurred_at.parse().unwrap(),
            event,
        }
    }

    fn purchased() -> LicenseEvent {
        LicenseEvent::Purchased(Purchased::new(
            ACCOUNT.parse().unwrap(),
            LicenseTerms {
                product: ProductCode::parse("XDT").unwrap(),
                edition: Edition::Advanced,
                version: ProductVersion::parse("7.15").unwrap(),
                license_model: LicenseModel::UserDevice,
                binding_type: BindingType::HostName,
                quantity: 1000,
                expires_on: None,
                maintenance_until: NaiveDate::from_ymd_opt(2027, 11, 22).unwrap(),
                order_number: "ORD-1".into(),
                access_code: "LA-1".into(),
                trial: false,
                partial_allocation: true,
                purchased_at: "2026-11-22T09:00:00Z".parse().unwrap(),
            },
        ))
    }

    fn allocation(n: u128) -> AllocationId {
        AllocationId(Uuid::from_u128(n))
    }

    fn host(name: &str) -> HostId {
        HostId::parse(BindingType::HostName, name).unwrap()
    }

    #[test]
    fn an_accounts_version_is_its_newest_event_applied_in_stream_order() {
        let at = |license: u128, transaction_id: i64, global_position: i64| StreamedEvent {
            license_id: LicenseId(Uuid::from_u128(license)),
            transaction_id,
            global_position,
            ..streamed(1, purchased())
        };
        let mut views = std::collections::HashMap::new();
        // The second transaction drew the lower position but committed (and so
        // was streamed and applied) later.
        for event in [at(1, 10, 501), at(2, 11, 500)] {
            let view: &mut LicenseView = views.entry(event.license_id.0).or_default();
            assert_eq!(view.apply(&event).unwrap(), Applied::Changed);
        }
        let account = ACCOUNT.parse::<Uuid>().unwrap();
        assert_eq!(
            crate::writer::account_versions(&views),
            vec![(account, (11, 500))]
        );
        // A redelivery changes nothing, so it moves no version.
        let view = views.get_mut(&Uuid::from_u128(2)).unwrap();
        assert_eq!(
            view.apply(&at(2, 11, 500)).unwrap(),
            Applied::AlreadyApplied
        );
        assert_eq!(view.applied_at, Some((11, 500)));
    }

    #[test]
    fn allocations_moves_and_returns_keep_allocated_equal_to_live_seats() {
        let mut view = LicenseView::default();
        let events = [
            purchased(),
            LicenseEvent::Allocated(Allocated {
                allocation_id: allocation(1),
                host: host("A"),
                quantity: 800,
            }),
            LicenseEvent::Allocated(Allocated {
                allocation_id: allocation(2),
                host: host("B"),
                quantity: 200,
            }),
            LicenseEvent::Modified(Modified {
                allocation_id: allocation(2),
                new_allocation_id: allocation(3),
                from_host: host("B"),
                to_host: host("C"),
                quantity: 200,
            }),
            LicenseEvent::Returned(Returned {
                allocation_id: allocation(1),
                host: host("A"),
                quantity: 800,
            }),
        ];
        for (i, event) in events.into_iter().enumerate() {
            assert_eq!(
                view.apply(&streamed(i as i64 + 1, event)).unwrap(),
                Applied::Changed
            );
        }
        let row = view.license.as_ref().unwrap();
        assert_eq!((row.quantity, row.allocated), (1000, 200));
        assert_eq!(row.last_sequence, 5);
        assert_eq!(row.feature, "XDT_ADV_UD");
        let statuses: Vec<_> = view
            .allocations
            .values()
            .map(|a| a.status.as_str())
            .collect();
        assert_eq!(statuses, ["returned", "moved", "live"]);
        assert_eq!(
            view.allocations[&Uuid::from_u128(2)].replaced_by,
            Some(Uuid::from_u128(3))
        );
    }

    #[test]
    fn a_redelivered_event_changes_nothing() {
        let mut view = LicenseView::default();
        view.apply(&streamed(1, purchased())).unwrap();
        view.apply(&streamed(2, LicenseEvent::Hidden(Hidden {})))
            .unwrap();
        let before = view.clone();
        assert_eq!(
            view.apply(&streamed(2, LicenseEvent::Hidden(Hidden {})))
                .unwrap(),
            Applied::AlreadyApplied
        );
        assert_eq!(view, before);
    }

    #[test]
    fn events_before_a_purchase_or_after_a_gap_are_refused() {
        let mut view = LicenseView::default();
        assert!(matches!(
            view.apply(&streamed(1, LicenseEvent::Hidden(Hidden {}))),
            Err(ApplyError::NotPurchased { .. })
        ));
        view.apply(&streamed(1, purchased())).unwrap();
        assert!(matches!(
            view.apply(&streamed(3, LicenseEvent::Hidden(Hidden {}))),
            Err(ApplyError::SequenceGap {
                at: 1,
                sequence: 3,
                ..
            })
        ));
    }

    #[test]
    fn an_edition_upgrade_renames_the_feature_and_reissues_live_files() {
        let mut view = LicenseView::default();
        view.apply(&streamed(1, purchased())).unwrap();
        view.apply(&streamed(
            2,
            LicenseEvent::Allocated(Allocated {
                allocation_id: allocation(1),
                host: host("A"),
                quantity: 5,
            }),
        ))
        .unwrap();
        view.apply(&streamed(
            3,
            LicenseEvent::Upgraded(Upgraded {
                to_edition: Some(Edition::Platinum),
                to_version: None,
                reissued_allocations: vec![],
            }),
        ))
        .unwrap();
        assert_eq!(view.allocations[&Uuid::from_u128(1)].file_revision, 3);
        assert_eq!(view.license.unwrap().feature, "XDT_PLT_UD");
    }

    #[test]
    fn renewals_reissue_live_files_at_their_instant_and_keep_every_revision() {
        let mut view = LicenseView::default();
        let events = [
            ("2026-11-22T10:00:00Z", purchased()),
            (
                "2026-11-23T08:00:00Z",
                LicenseEvent::Allocated(Allocated {
                    allocation_id: allocation(1),
                    host: host("A"),
                    quantity: 5,
                }),
            ),
            (
                "2026-11-24T08:00:00Z",
                LicenseEvent::Allocated(Allocated {
                    allocation_id: allocation(2),
                    host: host("B"),
                    quantity: 5,
                }),
            ),
            (
                "2026-11-25T08:00:00Z",
                LicenseEvent::Modified(Modified {
                    allocation_id: allocation(2),
                    new_allocation_id: allocation(3),
                    from_host: host("B"),
                    to_host: host("C"),
                    quantity: 5,
                }),
            ),
            (
                "2027-02-01T12:00:00Z",
                LicenseEvent::Renewed(Renewed {
                    expires_on: None,
                    maintenance_until: NaiveDate::from_ymd_opt(2028, 11, 22),
                }),
            ),
            ("2027-02-02T12:00:00Z", LicenseEvent::Hidden(Hidden {})),
        ];
        for (i, (at, event)) in events.into_iter().enumerate() {
            view.apply(&streamed_at(at, i as i64 + 1, event)).unwrap();
        }
        let file = |n: u128| {
            let row = &view.allocations[&Uuid::from_u128(n)];
            (
                row.file_revision,
                row.file_issued_at.to_rfc3339(),
                row.file_revisions.clone(),
            )
        };
        assert_eq!(file(1), (5, "2027-02-01T12:00:00+00:00".into(), vec![2, 5]));
        assert_eq!(file(2), (3, "2026-11-24T08:00:00+00:00".into(), vec![3]));
        assert_eq!(file(3), (5, "2027-02-01T12:00:00+00:00".into(), vec![4, 5]));
    }
}
