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
    #[error("line {line}: the INCREMENT line has no SIGN")]
    Unsigned {
        /// Where the line starts.
        line: usize,
    },
    /// Signed by a key that is not among the keys given.
    #[error("line {line}: signed with key `{key_id}`, which is not a known key")]
    UnknownKey {
        /// Where the line starts.
        line: usize,
        /// The key id the file names.
        key_id: String,
    },
    /// The signature does not cover this content: something signed was changed.
    #[error("line {line}: the signature of key `{key_id}` does not match the file's content")]
    SignatureMismatch {
        /// Where the line starts.
        line: usize,
        /// The key id the file names.
        key_id: String,
    },
}
