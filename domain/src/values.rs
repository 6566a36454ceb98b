//! Validated value types shared by commands, events and read models.
//!
//! Parsing happens once, at the edge (`parse`), so the rest of the code can rely on a
//! `ProductCode` being a product code. Serde goes through the same parsers, so a value
//! read back from the store or the stream is held to the same rules — except
//! [`HostId`], whose rules depend on the license's binding type: it is checked when a
//! command is decided and read back as recorded.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a raw value was refused; shown to callers next to the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValueError;
            fn from_str(raw: &str) -> Result<Self, ValueError> {
                Uuid::parse_str(raw)
                    .map(Self)
                    .map_err(|_| ValueError(format!("`{raw}` is not a UUID")))
            }
        }
    };
}

uuid_id!(
    /// The customer account a license belongs to; every license has exactly one.
    AccountId
);
uuid_id!(
    /// A license: one purchased line. Also the aggregate id in the event store.
    LicenseId
);
uuid_id!(
    /// One allocation of part of a license's quantity to one license server.
    AllocationId
);

/// A product code such as `XDT`: the first part of a feature name (`XDT_ENT_UD`).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductCode(String);

impl ProductCode {
    /// Accepts 2 to 16 characters of `A-Z`, `0-9`: feature names are built from it,
    /// and FlexNet feature names allow no separators of their own inside a part.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let valid_len = (2..=16).contains(&raw.len());
        let valid_chars = raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if valid_len && valid_chars {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError(format!(
                "`{raw}` is not a product code: 2 to 16 characters A-Z or 0-9"
            )))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProductCode {
    type Error = ValueError;
    fn try_from(raw: String) -> Result<Self, ValueError> {
        Self::parse(&raw)
    }
}

impl From<ProductCode> for String {
    fn from(code: ProductCode) -> Self {
        code.0
    }
}

impl fmt::Display for ProductCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A product edition. Editions rank, and upgrades only go up the ranking:
/// Standard < Advanced < Enterprise < Platinum (declaration order is the rank).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Edition {
    /// `STD`
    #[serde(rename = "STD")]
    Standard,
    /// `ADV`
    #[serde(rename = "ADV")]
    Advanced,
    /// `ENT`
    #[serde(rename = "ENT")]
    Enterprise,
    /// `PLT`
    #[serde(rename = "PLT")]
    Platinum,
}

impl Edition {
    /// The code used in feature names and on the wire.
    pub fn code(self) -> &'static str {
        match self {
            Self::Standard => "STD",
            Self::Advanced => "ADV",
            Self::Enterprise => "ENT",
            Self::Platinum => "PLT",
        }
    }

    /// Parses `STD`, `ADV`, `ENT` or `PLT`.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw {
            "STD" => Ok(Self::Standard),
            "ADV" => Ok(Self::Advanced),
            "ENT" => Ok(Self::Enterprise),
            "PLT" => Ok(Self::Platinum),
            _ => Err(ValueError(format!(
                "`{raw}` is not an edition: one of STD, ADV, ENT, PLT"
            ))),
        }
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How seats are counted. Only user/device licenses carry an overdraft allowance.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseModel {
    /// Per named user or device (`_UD`); 10% overdraft allowance.
    UserDevice,
    /// Concurrent users (`_CCU`).
    ConcurrentUser,
    /// Concurrent systems (`_CCS`).
    ConcurrentSystem,
    /// Per server (`_SRV`).
    PerServer,
    /// Per socket (`_SKT`).
    PerSocket,
    /// Appliance (`_APP`).
    Appliance,
}

impl LicenseModel {
    /// The suffix of a feature name, e.g. `UD` in `XDT_ENT_UD`.
    pub fn feature_suffix(self) -> &'static str {
        match self {
            Self::UserDevice => "UD",
            Self::ConcurrentUser => "CCU",
            Self::ConcurrentSystem => "CCS",
            Self::PerServer => "SRV",
            Self::PerSocket => "SKT",
            Self::Appliance => "APP",
        }
    }

    /// The wire name (`user_device`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserDevice => "user_device",
            Self::ConcurrentUser => "concurrent_user",
            Self::ConcurrentSystem => "concurrent_system",
            Self::PerServer => "per_server",
            Self::PerSocket => "per_socket",
            Self::Appliance => "appliance",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        [
            Self::UserDevice,
            Self::ConcurrentUser,
            Self::ConcurrentSystem,
            Self::PerServer,
            Self::PerSocket,
            Self::Appliance,
        ]
        .into_iter()
        .find(|model| model.as_str() == raw)
        .ok_or_else(|| {
            ValueError(format!(
                "`{raw}` is not a license model: one of user_device, concurrent_user, \
                 concurrent_system, per_server, per_socket, appliance"
            ))
        })
    }
}

/// What a license file is bound to on the license server.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingType {
    /// The server's host name; case-sensitive and kept exactly as given.
    HostName,
    /// A MAC address: 12 hex digits.
    MacAddress,
    /// A hardware serial number.
    HardwareSerial,
    /// Any other identifier the product defines.
    OtherId,
}

impl BindingType {
    /// The wire name (`host_name`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HostName => "host_name",
            Self::MacAddress => "mac_address",
            Self::HardwareSerial => "hardware_serial",
            Self::OtherId => "other_id",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        [
            Self::HostName,
            Self::MacAddress,
            Self::HardwareSerial,
            Self::OtherId,
        ]
        .into_iter()
        .find(|binding| binding.as_str() == raw)
        .ok_or_else(|| {
            ValueError(format!(
                "`{raw}` is not a binding type: one of host_name, mac_address, \
                 hardware_serial, other_id"
            ))
        })
    }
}

/// The id of a license server a license is bound to, valid for its binding type.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostId(String);

impl HostId {
    /// Checks `raw` against the rules of `binding`. Host names are kept exactly as
    /// given (license servers compare them case-sensitively); a MAC address is
    /// written in lower case, as FlexNet writes `ETHERNET=` ids, so `0A1B…` and
    /// `0a1b…` name one server.
    pub fn parse(binding: BindingType, raw: &str) -> Result<Self, ValueError> {
        let ok = match binding {
            BindingType::HostName => is_host_name(raw),
            BindingType::MacAddress => {
                raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_hexdigit())
            }
            BindingType::HardwareSerial => {
                (1..=64).contains(&raw.len())
                    && raw
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            BindingType::OtherId => {
                (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic())
            }
        };
        if !ok {
            return Err(ValueError(format!(
                "`{raw}` is not a valid {} id",
                binding.as_str().replace('_', " ")
            )));
        }
        Ok(Self(match binding {
            BindingType::MacAddress => raw.to_ascii_lowercase(),
            _ => raw.to_owned(),
        }))
    }

    /// A host id read back from history (a read-model row): kept exactly as it was
    /// recorded, since it was checked against the rules of its day when decided.
    pub fn recorded(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 1123 host name: dot-separated labels of 1–63 letters, digits and inner hyphens.
fn is_host_name(raw: &str) -> bool {
    (1..=253).contains(&raw.len())
        && raw.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A product version such as `7.15` or `2403.1`, compared part by part as numbers.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductVersion(String);

impl ProductVersion {
    /// Accepts one to four dot-separated numbers, each at most 9 digits.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let parts: Vec<&str> = raw.split('.').collect();
        let ok = (1..=4).contains(&parts.len())
            && parts
                .iter()
                .all(|p| (1..=9).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError(format!(
                "`{raw}` is not a version: up to four dot-separated numbers, e.g. 7.15"
            )))
        }
    }

    fn numbers(&self) -> Vec<u64> {
        // Parsing proved every part is 1–9 ASCII digits, so each fits in a u64.
        self.0.split('.').map(|p| p.parse().unwrap_or(0)).collect()
    }

    /// Compares releases by their numbers alone, missing parts counting as 0:
    /// `7.15`, `7.15.0` and `07.15` are the same release. Rules use this; `Ord` also
    /// breaks ties by text (to agree with `Eq`), so there `7.15.0` sorts after `7.15`.
    pub fn cmp_release(&self, other: &Self) -> Ordering {
        let (a, b) = (self.numbers(), other.numbers());
        let len = a.len().max(b.len());
        (0..len)
            .map(|i| {
                a.get(i)
                    .copied()
                    .unwrap_or(0)
                    .cmp(&b.get(i).copied().unwrap_or(0))
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialOrd for ProductVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ProductVersion {
    /// `7.15 > 7.9`; missing parts count as 0, so `7 == 7.0` in rank.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_release(other).then_with(|| self.0.cmp(&other.0))
    }
}

impl TryFrom<String> for ProductVersion {
    type Error = ValueError;
    fn try_from(raw: String) -> Result<Self, ValueError> {
        Self::parse(&raw)
    }
}

impl From<ProductVersion> for String {
    fn from(version: ProductVersion) -> Self {
        version.0
    }
}

impl fmt::Display for ProductVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_kept_exactly_and_checked_by_binding_type() {
        let host = HostId::parse(BindingType::HostName, "CtxSrv-01.corp").unwrap();
        assert_eq!(host.as_str(), "CtxSrv-01.corp");
        assert!(HostId::parse(BindingType::HostName, "bad host").is_err());
        assert!(HostId::parse(BindingType::HostName, "-lead").is_err());
        assert!(HostId::parse(BindingType::HostName, "").is_err());
        assert!(HostId::parse(BindingType::MacAddress, "0a1B2c3D4e5F").is_ok());
        assert!(HostId::parse(BindingType::MacAddress, "0a:1B:2c:3D:4e").is_err());
        assert!(HostId::parse(BindingType::HardwareSerial, "SN-123_4").is_ok());
        assert!(HostId::parse(BindingType::OtherId, "id with space").is_err());
    }

    #[test]
    fn versions_compare_as_numbers() {
        let v = |s| ProductVersion::parse(s).unwrap();
        assert!(v("7.15") > v("7.9"));
        assert!(v("2403") > v("7.15"));
        assert!(v("7.0") >= v("7"));
        assert!(ProductVersion::parse("7.x").is_err());
        assert!(ProductVersion::parse("").is_err());
    }

    #[test]
    fn editions_rank_standard_to_platinum() {
        assert!(Edition::Standard < Edition::Advanced);
        assert!(Edition::Advanced < Edition::Enterprise);
        assert!(Edition::Enterprise < Edition::Platinum);
        assert_eq!(Edition::parse("ENT").unwrap(), Edition::Enterprise);
        assert!(Edition::parse("ent").is_err());
    }

    #[test]
    fn product_codes_are_upper_case_alphanumerics() {
        assert!(ProductCode::parse("XDT").is_ok());
        assert!(ProductCode::parse("x").is_err());
        assert!(ProductCode::parse("XD_T").is_err());
    }

    #[test]
    fn wire_names_round_trip() {
        for model in ["user_device", "concurrent_user", "per_socket", "appliance"] {
            assert_eq!(LicenseModel::parse(model).unwrap().as_str(), model);
        }
        for binding in ["host_name", "mac_address", "hardware_serial", "other_id"] {
            assert_eq!(BindingType::parse(binding).unwrap().as_str(), binding);
        }
        assert!(LicenseModel::parse("UD").is_err());
    }
}
