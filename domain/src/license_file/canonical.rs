//! The canonical form: the exact bytes an `INCREMENT` line's signature covers.
//!
//! Four lines, each ending in `\n` (UTF-8):
//!
//! ```text
//! licensing-ledger-license-file/1
//! <key id>
//! <host id token of the SERVER line, e.g. HOSTNAME=CTXSRV01>
//! <the INCREMENT line's tokens except SIGN=…, as written, joined by one space>
//! ```
//!
//! Tokens are taken as written (quotes kept), after joining `\` continuations;
//! whitespace between tokens does not matter. The `SERVER` line's host name and
//! port, the `VENDOR` line and comments are not covered: license server
//! administrators edit those, as FlexNet allows. The key id is covered, so a
//! signature cannot be passed off as another key's.

/// The first line of the canonical form; a new layout gets a new version.
pub const CANONICAL_VERSION: &str = "licensing-ledger-license-file/1";

/// The bytes signed for one `INCREMENT` line. `increment` holds its tokens as
/// written, without the `SIGN=` token.
pub fn canonical_form<S: AsRef<str>>(key_id: &str, host_id: &str, increment: &[S]) -> Vec<u8> {
    let increment: Vec<&str> = increment.iter().map(AsRef::as_ref).collect();
    format!(
        "{CANONICAL_VERSION}\n{key_id}\n{host_id}\n{}\n",
        increment.join(" ")
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_is_four_lines_with_single_spaces() {
        let bytes = canonical_form(
            "k1",
            "HOSTNAME=A",
            &["INCREMENT", "F", "V", "NOTICE=\"a b\""],
        );
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "licensing-ledger-license-file/1\nk1\nHOSTNAME=A\nINCREMENT F V NOTICE=\"a b\"\n"
        );
    }
}
