//! Reading a license file back into its parts: the comments, the `SERVER` line's
//! host id and each `INCREMENT` line's tokens and signature. Tolerates what
//! editors and license server tools do to files: CRLF line ends, `\` continuations
//! anywhere, extra whitespace, blank lines.

use crate::license_file::errors::VerifyError;
use crate::license_file::model::HOST_ID_KEYWORDS;
use crate::license_file::tokens::{key_value, logical_lines, split};

/// A license file's parts, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedFile {
    /// `# key: value` comment lines of the file, in order (not signed): those
    /// before the `SERVER` line or after the last `INCREMENT`.
    pub comments: Vec<(String, String)>,
    /// The `SERVER` line's host id token, e.g. `HOSTNAME=CTXSRV01`.
    pub host_id: String,
    /// Every `INCREMENT` line.
    pub increments: Vec<ParsedIncrement>,
}

/// One `INCREMENT` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedIncrement {
    /// 1-based physical line it starts on.
    pub line: usize,
    /// Its tokens as written, without `SIGN=`.
    pub tokens: Vec<String>,
    /// The `SIGN=` value, unquoted (`<key id>:<base64 signature>`), if any.
    pub sign: Option<String>,
    /// `# key: value` comments between the `SERVER` line or the previous
    /// `INCREMENT` and this one: in a server's file, the allocation it is for.
    pub comments: Vec<(String, String)>,
}

impl ParsedIncrement {
    /// Positional field `index` (0 is the feature), as written.
    pub fn positional(&self, index: usize) -> &str {
        self.tokens.get(index + 1).map(String::as_str).unwrap_or("")
    }

    /// The unquoted value of `KEY=` on this line.
    pub fn field(&self, key: &str) -> Option<String> {
        self.tokens
            .iter()
            .filter_map(|token| key_value(token))
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value)
    }
}

/// Parses `text`. Only comment, `SERVER`, `VENDOR`, `USE_SERVER` and `INCREMENT`
/// lines are allowed: an unsigned `FEATURE` line slipped into a file must not ride
/// along with a valid signature.
pub fn parse(text: &str) -> Result<ParsedFile, VerifyError> {
    let mut parsed = ParsedFile::default();
    let mut host_id: Option<String> = None;
    // Comments after the SERVER line wait for the INCREMENT they precede.
    let mut pending: Vec<(String, String)> = Vec::new();
    for line in logical_lines(text) {
        let malformed = |reason: String| VerifyError::Malformed {
            line: line.number,
            reason,
        };
        if let Some(comment) = line.text.strip_prefix('#') {
            if let Some((key, value)) = comment.split_once(':') {
                let comment = (key.trim().to_owned(), value.trim().to_owned());
                if host_id.is_some() {
                    pending.push(comment);
                } else {
                    parsed.comments.push(comment);
                }
            }
            continue;
        }
        let tokens = split(&line.text).map_err(|e| malformed(e.to_string()))?;
        match tokens.first().copied() {
            Some("SERVER") => {
                let token = tokens
                    .get(2)
                    .filter(|t| {
                        t.split_once('=')
                            .is_some_and(|(k, _)| HOST_ID_KEYWORDS.contains(&k))
                    })
                    .ok_or_else(|| {
                        malformed(format!(
                            "a SERVER line is `SERVER <host> <{}=…>`",
                            HOST_ID_KEYWORDS.join("|")
                        ))
                    })?;
                if host_id.replace((*token).to_owned()).is_some() {
                    return Err(VerifyError::SeveralServerLines);
                }
            }
            Some("VENDOR") | Some("USE_SERVER") => {}
            Some("INCREMENT") => {
                if tokens.len() < 6 {
                    return Err(malformed(
                        "an INCREMENT line is `INCREMENT <feature> <vendor> <version> \
                         <expiry> <count> …`"
                            .to_owned(),
                    ));
                }
                let (signs, rest): (Vec<&str>, Vec<&str>) =
                    tokens.into_iter().partition(|t| t.starts_with("SIGN="));
                if signs.len() > 1 {
                    return Err(malformed("more than one SIGN".to_owned()));
                }
                parsed.increments.push(ParsedIncrement {
                    line: line.number,
                    tokens: rest.into_iter().map(str::to_owned).collect(),
                    sign: signs.first().and_then(|t| key_value(t)).map(|(_, v)| v),
                    comments: std::mem::take(&mut pending),
                });
            }
            Some(other) => {
                return Err(malformed(format!(
                    "unexpected `{other}` line: only SERVER, VENDOR, USE_SERVER and \
                     INCREMENT lines are allowed"
                )))
            }
            None => {}
        }
    }
    parsed.comments.append(&mut pending);
    parsed.host_id = host_id.ok_or(VerifyError::NoServerLine)?;
    if parsed.increments.is_empty() {
        return Err(VerifyError::NoIncrement);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# licensing-ledger license file\r\n# revision: 3\r\n\
        SERVER this_host HOSTNAME=CtxSrv01 27000\r\nVENDOR CITRIX\r\nUSE_SERVER\r\n\
        INCREMENT XDT_ENT_UD CITRIX 2027.0131 permanent 800 \\\r\n\
        \tNOTICE=\"Order A B\"   SN=LA-1:1 \\\r\n  SIGN=\"k1:abc=\"\r\n";

    #[test]
    fn a_file_with_crlf_and_continuations_parses_into_its_parts() {
        let parsed = parse(FILE).unwrap();
        assert_eq!(parsed.comments, [("revision".to_owned(), "3".to_owned())]);
        assert_eq!(parsed.host_id, "HOSTNAME=CtxSrv01");
        let increment = &parsed.increments[0];
        assert_eq!(increment.line, 6);
        assert_eq!(increment.positional(0), "XDT_ENT_UD");
        assert_eq!(increment.positional(4), "800");
        assert_eq!(increment.field("NOTICE").as_deref(), Some("Order A B"));
        assert_eq!(increment.sign.as_deref(), Some("k1:abc="));
        assert_eq!(increment.tokens.last().unwrap(), "SN=LA-1:1");
    }

    #[test]
    fn comments_between_increments_belong_to_the_increment_they_precede() {
        let text = "# account: a\nSERVER this_host HOSTNAME=h\n# allocation: one\n\
             INCREMENT F1 V 1 permanent 1 SIGN=x\n# allocation: two\n\
             INCREMENT F2 V 1 permanent 1 SIGN=y\n# end: of file\n";
        let parsed = parse(text).unwrap();
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            parsed.comments,
            [pair("account", "a"), pair("end", "of file")]
        );
        assert_eq!(parsed.increments[0].comments, [pair("allocation", "one")]);
        assert_eq!(parsed.increments[1].comments, [pair("allocation", "two")]);
    }

    #[test]
    fn foreign_lines_missing_parts_and_unclosed_quotes_are_refused() {
        let with_feature = format!("{FILE}FEATURE X CITRIX 1.0 permanent 1 SIGN=x\n");
        assert!(matches!(
            parse(&with_feature),
            Err(VerifyError::Malformed { line: 9, .. })
        ));
        let no_server = FILE.replace("SERVER this_host HOSTNAME=CtxSrv01 27000", "");
        assert_eq!(parse(&no_server), Err(VerifyError::NoServerLine));
        let bad_host = FILE.replace("HOSTNAME=", "HOST=");
        assert!(matches!(
            parse(&bad_host),
            Err(VerifyError::Malformed { line: 3, .. })
        ));
        let open_quote = FILE.replace("\"Order A B\"", "\"Order A B");
        assert!(matches!(
            parse(&open_quote),
            Err(VerifyError::Malformed { .. })
        ));
        let nothing = "SERVER this_host HOSTNAME=a\n";
        assert_eq!(parse(nothing), Err(VerifyError::NoIncrement));
    }
}
