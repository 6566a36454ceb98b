//! The lexical layer of a license file, shared by rendering and parsing so the two
//! can never disagree: how physical lines join into logical ones (`\` continuations,
//! CRLF), how a logical line splits into tokens, and how a value is quoted.
//!
//! A token is a run of non-whitespace characters; a double quote opens a section
//! that runs to the next unescaped double quote and may hold whitespace. Inside
//! quotes a backslash escapes the next character (`\"`, `\\`). A value that is
//! empty or holds whitespace, a quote, a backslash or a control character is
//! written quoted; any other value is written bare.

use std::borrow::Cow;

/// One logical line: physical lines joined at `\` continuations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// The 1-based physical line it starts on, for error messages.
    pub number: usize,
    /// Its text, trimmed, continuations joined with one space.
    pub text: String,
}

/// Splits `text` into logical lines, dropping blank ones. A physical line whose
/// last non-blank character is `\` continues on the next one; CRLF and LF both end
/// a line.
pub fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut lines = Vec::new();
    let mut current: Option<LogicalLine> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let physical = raw.strip_suffix('\r').unwrap_or(raw).trim();
        let (body, continues) = match physical.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (physical, false),
        };
        let line = current.get_or_insert_with(|| LogicalLine {
            number: index + 1,
            text: String::new(),
        });
        if !line.text.is_empty() && !body.is_empty() {
            line.text.push(' ');
        }
        line.text.push_str(body);
        if !continues {
            if let Some(done) = current.take().filter(|l| !l.text.is_empty()) {
                lines.push(done);
            }
        }
    }
    // A file that ends on a continuation still has its last line.
    lines.extend(current.filter(|l| !l.text.is_empty()));
    lines
}

/// Why a logical line could not be split into tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a double quote is not closed")]
pub struct UnclosedQuote;

/// The tokens of a logical line, each exactly as written (quotes and escapes kept).
pub fn split(line: &str) -> Result<Vec<&str>, UnclosedQuote> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    let mut in_quotes = false;
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        if in_quotes {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() {
            if let Some(from) = start.take() {
                tokens.push(&line[from..at]);
            }
            continue;
        }
        start.get_or_insert(at);
        in_quotes = c == '"';
    }
    if in_quotes {
        return Err(UnclosedQuote);
    }
    if let Some(from) = start {
        tokens.push(&line[from..]);
    }
    Ok(tokens)
}

/// `value` as it is written in a file: bare when that is unambiguous, else quoted.
pub fn quote(value: &str) -> Cow<'_, str> {
    let needs_quotes = value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\');
    if !needs_quotes {
        return Cow::Borrowed(value);
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    Cow::Owned(quoted)
}

/// The value a written token stands for: quotes removed and escapes resolved.
pub fn unquote(written: &str) -> String {
    let mut value = String::with_capacity(written.len());
    let mut in_quotes = false;
    let mut escaped = false;
    for c in written.chars() {
        match (in_quotes, escaped, c) {
            (true, true, _) => {
                value.push(c);
                escaped = false;
            }
            (true, false, '\\') => escaped = true,
            (_, false, '"') => in_quotes = !in_quotes,
            _ => value.push(c),
        }
    }
    value
}

/// A `KEY=value` token split into its key and unquoted value; `None` for a token
/// with no `=` before any quote.
pub fn key_value(token: &str) -> Option<(&str, String)> {
    let (key, written) = token.split_once('=')?;
    (!key.contains('"')).then(|| (key, unquote(written)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_and_crlf_join_into_one_logical_line() {
        let text = "# note\r\nINCREMENT A B \\\r\n   C=1 \\\n  D=\"x y\"\r\n\r\nUSE_SERVER\\";
        let lines = logical_lines(text);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            ["# note", "INCREMENT A B C=1 D=\"x y\"", "USE_SERVER"]
        );
        assert_eq!(lines[1].number, 2);
    }

    #[test]
    fn quoted_values_keep_their_spaces_and_escapes_round_trip() {
        for value in [
            "plain",
            "two words",
            "say \"hi\"",
            "back\\slash",
            "",
            "tab\there",
        ] {
            let token = format!("K={}", quote(value));
            let line = format!("A {token} B");
            let tokens = split(&line).unwrap();
            assert_eq!(tokens, ["A", token.as_str(), "B"], "{value}");
            assert_eq!(key_value(tokens[1]).unwrap(), ("K", value.to_owned()));
        }
        assert_eq!(quote("LA-1:1"), "LA-1:1");
        assert_eq!(split("A \"open"), Err(UnclosedQuote));
    }
}
