//! Writing CSV (RFC 4180) that spreadsheets open safely: fields with commas,
//! quotes or line breaks are quoted, quotes doubled, and a cell that a spreadsheet
//! would run as a formula (starting `=`, `+`, `-`, `@`, tab or carriage return) is
//! prefixed with `'` so it shows as text — except a negative number such as a past
//! expiry's `-3` days, which no spreadsheet runs.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};

/// A CSV download: the header line, then each page of lines as `pages` yields it.
/// The body pulls pages as the client reads, so no file is held in memory; an error
/// part-way ends the body abruptly, so the client sees a failed download rather than
/// a silently short file.
pub fn download<S>(filename: &str, columns: &[&str], pages: S) -> Response
where
    S: Stream<Item = Result<String, sqlx::Error>> + Send + 'static,
{
    let header = futures::stream::once(std::future::ready(Ok(line(columns))));
    let body = header.chain(pages).map(|page| match page {
        Ok(text) => Ok(Bytes::from(text)),
        Err(error) => {
            tracing::error!(%error, "CSV export failed part-way");
            Err(std::io::Error::other("export failed"))
        }
    });
    let disposition = format!("attachment; filename=\"{filename}\"");
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// One CSV line (ending in CRLF) from its cells.
pub fn line<I, S>(cells: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for (index, cell) in cells.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_cell(&mut out, cell.as_ref());
    }
    out.push_str("\r\n");
    out
}

/// A negative whole or decimal number (`-1`, `-2.5`): a spreadsheet reads it as
/// a number, never as a formula, so it stays a number.
fn is_negative_number(raw: &str) -> bool {
    raw.strip_prefix('-').is_some_and(|digits| {
        !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && digits.bytes().filter(|b| *b == b'.').count() <= 1
    })
}

fn push_cell(out: &mut String, raw: &str) {
    let neutralised = raw.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_negative_number(raw);
    let quoted = neutralised || raw.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if neutralised {
        out.push('\'');
    }
    for c in raw.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cells_stay_bare_and_special_ones_are_quoted() {
        assert_eq!(line(["a", "b c", ""]), "a,b c,\r\n");
        assert_eq!(
            line(["x,y", "say \"hi\"", "two\nlines"]),
            "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
    }

    #[test]
    fn formulas_are_shown_as_text() {
        assert_eq!(
            line(["=1+2", "+A1", "-3+A1", "@SUM(A1)", "-"]),
            "\"'=1+2\",\"'+A1\",\"'-3+A1\",\"'@SUM(A1)\",\"'-\"\r\n"
        );
    }

    #[test]
    fn negative_numbers_stay_numbers() {
        assert_eq!(line(["-1", "-2.5", "-1.2.3"]), "-1,-2.5,\"'-1.2.3\"\r\n");
    }
}
