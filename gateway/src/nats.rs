//! Connecting to NATS as the ledger's user.
//!
//! `nats_url` carries the login, `nats://<user>:<password>@host:4222`, like
//! `database_url` does. async-nats parses such a URL but does not send its
//! credentials (0.51 logs in only with what `ConnectOptions` was given), so they
//! are taken out here and handed over explicitly; without them a server that
//! requires a login (deploy/nats/accounts.conf) answers "authorization violation".

use std::time::Duration;

use anyhow::Context as _;
use async_nats::{Event, ServerAddr};
use percent_encoding::percent_decode_str;
use tokio::sync::watch;

use crate::config::redact;

/// Connects to `url` with the user and password in it, if any.
pub async fn connect(url: &str) -> anyhow::Result<async_nats::Client> {
    Ok(connect_watched(url).await?.0)
}

/// [`connect`], also counting the connection's losses: what waits on the server
/// (the relay's acks) can give up the moment the connection drops rather than
/// wait out its timeout, since a reply sent to the lost connection never comes.
pub async fn connect_watched(url: &str) -> anyhow::Result<(async_nats::Client, Disconnects)> {
    let (lost, disconnects) = watch::channel(0_u64);
    let options = match credentials(url)? {
        Some((user, password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        None => async_nats::ConnectOptions::new(),
    };
    options
        .name("licensing-ledger")
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(move |event| {
            // async-nats logs every event itself.
            if matches!(event, Event::Disconnected) {
                lost.send_modify(|count| *count += 1);
            }
            async {}
        })
        .connect(url)
        .await
        .map(|client| (client, Disconnects(disconnects)))
        .with_context(|| format!("connecting to NATS at {}", redact(url)))
}

/// How many times a connection was lost, to wait on a loss.
#[derive(Debug, Clone)]
pub struct Disconnects(watch::Receiver<u64>);

impl Disconnects {
    /// Losses so far: pass it to [`Disconnects::after`] later.
    pub fn seen(&self) -> u64 {
        *self.0.borrow()
    }

    /// Resolves once the connection is lost after `seen` losses (or the client is
    /// gone); pending forever while it holds.
    pub async fn after(&self, seen: u64) {
        let mut losses = self.0.clone();
        // An error means the client, and so its connection, is gone.
        let _ = losses.wait_for(|count| *count != seen).await;
    }
}

/// Longest wait between attempts to reconnect to a lost server.
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// How long to wait before reconnect attempt `attempts`: at once, then doubling
/// from 2 ms up to [`MAX_RECONNECT_DELAY`]. async-nats' own doubles up to 4 s, so
/// a broker back after 2 s was found again only after 4 s more.
fn reconnect_delay(attempts: usize) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    match attempts {
        0 | 1 => Duration::ZERO,
        _ => Duration::from_millis(2_u64.saturating_pow(doublings)).min(MAX_RECONNECT_DELAY),
    }
}

/// The user and password in `url`, percent-decoded (a password holding `@`, `:`
/// or `/` must be percent-encoded in a URL). The error never shows the URL whole.
fn credentials(url: &str) -> anyhow::Result<Option<(String, String)>> {
    let address: ServerAddr = url
        .parse()
        .map_err(|_| anyhow::anyhow!("nats_url is not a NATS URL: {}", redact(url)))?;
    let Some(user) = address.username() else {
        return Ok(None);
    };
    let decode = |text: &str, what: &str| {
        percent_decode_str(text)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .with_context(|| format!("the {what} in nats_url is not UTF-8 once decoded"))
    };
    let password = decode(address.password().unwrap_or(""), "password")?;
    Ok(Some((decode(user, "user")?, password)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reconnecting_starts_at_once_and_never_waits_long() {
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(2), Duration::from_millis(2));
        assert_eq!(reconnect_delay(3), Duration::from_millis(4));
        assert_eq!(reconnect_delay(12), MAX_RECONNECT_DELAY);
        assert_eq!(reconnect_delay(usize::MAX), MAX_RECONNECT_DELAY);
    }

    #[test]
    fn the_login_in_the_url_is_taken_out_and_decoded() {
        assert_eq!(credentials("nats://127.0.0.1:4222").unwrap(), None);
        assert_eq!(
            credentials("nats://ledger:s%40cret%3A1@nats:4222").unwrap(),
            Some(("ledger".into(), "s@cret:1".into()))
        );
        assert_eq!(
            credentials("nats://ledger@nats:4222").unwrap(),
            Some(("ledger".into(), String::new()))
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_its_password() {
        let error = credentials("nats://ledger:hunter2@[bad").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
