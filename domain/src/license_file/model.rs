//! What a license file says and how it is written: the content of one allocation's
//! file, the tokens of its signed lines, and the text around them.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;

use crate::license_file::tokens::quote;
use crate::values::{AccountId, AllocationId, BindingType, HostId, LicenseId, ValueError};

/// The first comment line of every file we write.
pub const HEADER_COMMENT: &str = "# licensing-ledger license file";

/// The vendor daemon name written on `VENDOR` and `INCREMENT` lines.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct VendorName(String);

/// `CITRIX`: the vendor daemon of the portal this ledger serves (DOMAIN.md).
impl Default for VendorName {
    fn default() -> Self {
        Self("CITRIX".to_owned())
    }
}

impl TryFrom<String> for VendorName {
    type Error = ValueError;
    fn try_from(raw: String) -> Result<Self, ValueError> {
        Self::parse(&raw)
    }
}

impl VendorName {
    /// Accepts 1 to 10 letters, digits or `_`, as FlexNet vendor daemon names are.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let ok = (1..=10).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError(format!(
                "`{raw}` is not a vendor name: 1 to 10 letters, digits or `_`"
            )))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which allocation and revision a file is: written as comments, not signed
/// (the signed lines are what a license server acts on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    /// The owning account.
    pub account_id: AccountId,
    /// The license.
    pub license_id: LicenseId,
    /// The allocation the file is for.
    pub allocation_id: AllocationId,
    /// The license version at which this file was issued.
    pub revision: i64,
}

/// Everything one allocation's license file holds: one feature on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseFileContent {
    /// Which file this is (comments).
    pub identity: FileIdentity,
    /// What the host id is (picks the `SERVER` line's keyword).
    pub binding_type: BindingType,
    /// The license server's id, exactly as allocated.
    pub host: HostId,
    /// The vendor daemon.
    pub vendor: VendorName,
    /// Feature name, e.g. `XDT_ENT_UD`.
    pub feature: String,
    /// Last day of maintenance: the feature's version, `yyyy.mmdd`.
    pub maintenance_until: NaiveDate,
    /// Last valid day; `None` is `permanent`.
    pub expires_on: Option<NaiveDate>,
    /// Seats: the allocation's quantity.
    pub count: u32,
    /// Trial licenses are `LT=Eval`, others `LT=Retail`.
    pub trial: bool,
    /// Overdraft allowance in percent (`ODP=`).
    pub overdraft_percent: u32,
    /// When this revision of the file was issued: `ISSUED=` and `START=` are its
    /// UTC date, and it picks the signing key.
    pub issued_at: DateTime<Utc>,
    /// The order, in `NOTICE="Order …"`.
    pub order_number: String,
    /// The license access code, the serial number: `SN=<code>:1`.
    pub access_code: String,
}

/// The `SERVER` line keyword for each binding type.
pub fn host_id_keyword(binding: BindingType) -> &'static str {
    match binding {
        BindingType::HostName => "HOSTNAME",
        BindingType::MacAddress => "ETHERNET",
        BindingType::HardwareSerial => "DISK_SERIAL_NUM",
        BindingType::OtherId => "ID",
    }
}

/// The host id keywords a `SERVER` line may carry.
pub const HOST_ID_KEYWORDS: [&str; 4] = ["HOSTNAME", "ETHERNET", "DISK_SERIAL_NUM", "ID"];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `22-nov-2026`: FlexNet's date form, month in lower case.
pub fn flexnet_date(date: NaiveDate) -> String {
    let month = MONTHS.get(date.month0() as usize).copied().unwrap_or("???");
    format!("{:02}-{month}-{:04}", date.day(), date.year())
}

/// `2027.0131`: a maintenance date as a feature version.
pub fn feature_version(date: NaiveDate) -> String {
    format!("{:04}.{:02}{:02}", date.year(), date.month(), date.day())
}

impl LicenseFileContent {
    /// The `SERVER` line's host id token, e.g. `HOSTNAME=CTXSRV01`.
    pub fn host_id_token(&self) -> String {
        format!(
            "{}={}",
            host_id_keyword(self.binding_type),
            quote(self.host.as_str())
        )
    }

    /// The `INCREMENT` line's tokens without `SIGN`, in the order they are written,
    /// grouped as they are laid out on continuation lines.
    pub fn increment_groups(&self) -> [Vec<String>; 3] {
        let issued = flexnet_date(self.issued_at.date_naive());
        let expiry = self
            .expires_on
            .map(flexnet_date)
            .unwrap_or_else(|| "permanent".to_owned());
        let license_type = if self.trial { "Eval" } else { "Retail" };
        let vendor_string = format!(";LT={license_type};ODP={}", self.overdraft_percent);
        let notice = format!("Order {}", self.order_number);
        let serial = format!("{}:1", self.access_code);
        [
            vec![
                "INCREMENT".to_owned(),
                quote(&self.feature).into_owned(),
                self.vendor.as_str().to_owned(),
                feature_version(self.maintenance_until),
                expiry,
                self.count.to_string(),
            ],
            vec![format!("VENDOR_STRING={}", quote(&vendor_string))],
            vec![
                format!("ISSUED={issued}"),
                format!("NOTICE={}", quote(&notice)),
                format!("SN={}", quote(&serial)),
                format!("START={issued}"),
            ],
        ]
    }

    /// The `INCREMENT` tokens without `SIGN`, in order: what is signed.
    pub fn increment_tokens(&self) -> Vec<String> {
        self.increment_groups().into_iter().flatten().collect()
    }

    /// The comments naming which allocation and revision this is (not signed).
    pub fn identity_comments(&self) -> [String; 4] {
        let id = &self.identity;
        [
            format!("# license: {}", id.license_id),
            format!("# allocation: {}", id.allocation_id),
            format!("# revision: {}", id.revision),
            format!(
                "# issued: {}",
                self.issued_at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        ]
    }

    /// The `SERVER`, `VENDOR` and `USE_SERVER` lines.
    pub fn server_lines(&self) -> [String; 3] {
        [
            format!("SERVER this_host {}", self.host_id_token()),
            format!("VENDOR {}", self.vendor.as_str()),
            "USE_SERVER".to_owned(),
        ]
    }

    /// The `INCREMENT` line, laid out on continuation lines, ended by
    /// `sign_token` (`SIGN="<key id>:<signature>"`) and a line feed.
    pub fn increment_text(&self, sign_token: &str) -> String {
        let mut text = String::new();
        for group in self.increment_groups() {
            text.push_str(&group.join(" "));
            text.push_str(" \\\n  ");
        }
        text.push_str(sign_token);
        text.push('\n');
        text
    }

    /// The whole file, with `sign_token` (`SIGN="<key id>:<signature>"`) ending the
    /// `INCREMENT` line.
    pub fn render(&self, sign_token: &str) -> String {
        let account = format!("# account: {}", self.identity.account_id);
        let mut text = lines(
            [HEADER_COMMENT.to_owned(), account]
                .into_iter()
                .chain(self.identity_comments())
                .chain(self.server_lines()),
        );
        text.push_str(&self.increment_text(sign_token));
        text
    }
}

/// `lines`, each ended by a line feed.
pub fn lines(lines: impl IntoIterator<Item = String>) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    text
}
