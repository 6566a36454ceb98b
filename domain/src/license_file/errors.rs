//! What can go wrong with license files: signing, verifying.

/// Why a file could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// No key with private material is configured.
    #[error("no license-file signing key is configured")]
    NoSigningKey,
    /// A value would break the file's lines (the domain never produces one).
    #[error("`{0}` holds a control character and cannot be written into a license file")]
    Unprintable(&'static str),
    /// A server file of no allocation: it would license nothing.
    #[error("a license server's file needs at least one allocation")]
    NoAllocation,
    /// A server file's allocations are not all of one account, host id (host and
    /// binding type) and vendor: one `SERVER` line cannot cover them.
    #[error("the allocations are not all on one license server with one host id")]
    NotOneServer,
}

/// Why a file does not verify. Any change to a signed field ends in
/// [`VerifyError::SignatureMismatch`]; the others say the file is not even a
/// well-formed, signed license file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The text is not in the license file format.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based physical line where the logical line starts.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// No `SERVER` line, so no host id to check.
    #[error("no SERVER line with a host id")]
    NoServerLine,
    /// More than one `SERVER` line (redundant server triads are not issued).
    #[error("more than one SERVER line")]
    SeveralServerLines,
    /// No `INCREMENT` line: nothing is licensed.
    #[error("no INCREMENT line")]
    NoIncrement,
    /// An `INCREMENT` line without `SIGN=`.
    #[error("{at}: the INCREMENT line has no SIGN")]
    Unsigned {
        /// Which `INCREMENT`.
        at: IncrementAt,
    },
    /// Signed by a key that is not among the keys given.
    #[error("{at}: signed with key `{key_id}`, which is not a known key")]
    UnknownKey {
        /// Which `INCREMENT`.
        at: IncrementAt,
        /// The key id the file names.
        key_id: String,
    },
    /// The signature does not cover this content: something signed was changed.
    #[error("{at}: the signature of key `{key_id}` does not match the file's content")]
    SignatureMismatch {
        /// Which `INCREMENT`.
        at: IncrementAt,
        /// The key id the file names.
        key_id: String,
    },
}

/// Which `INCREMENT` line of a file an error is about, so that in a server's file
/// of thousands the one at fault can be found: where it starts, its place, its
/// feature and the allocation its comments name (not signed, so a hint only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementAt {
    /// 1-based physical line where it starts.
    pub line: usize,
    /// Its place among the file's `INCREMENT` lines, from 1.
    pub number: usize,
    /// How many `INCREMENT` lines the file has.
    pub of: usize,
    /// Its feature, as written.
    pub feature: String,
    /// The allocation its `# allocation:` comment names, if any.
    pub allocation: Option<String>,
}

impl std::fmt::Display for IncrementAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: INCREMENT {} of {} (feature {}",
            self.line, self.number, self.of, self.feature
        )?;
        if let Some(allocation) = &self.allocation {
            write!(f, ", allocation {allocation}")?;
        }
        f.write_str(")")
    }
}
