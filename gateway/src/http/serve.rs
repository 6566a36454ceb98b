//! Serving the HTTP API until the process stops, then stopping without cutting
//! off a request: new connections are refused at once; the connections already
//! open are served a moment longer, so a request a client sent just before the
//! stop is read and answered rather than lost with its closing connection (an
//! idle keep-alive connection is closed on the spot, request bytes waiting in it
//! or not); then each connection finishes the request it is on and closes.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::Listener;
use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long open connections are still served after the stop, before each is
/// closed once its request in progress is answered.
const LAST_CALL: Duration = Duration::from_millis(500);

/// Serves `router` on `listener` until `stop`; returns once every connection
/// has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let address = listener.local_addr().context("the listener's address")?;
    let listener = RefusingOnStop {
        listener: Some(listener),
        address,
        stop: stop.clone(),
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            stop.cancelled().await;
            tokio::time::sleep(LAST_CALL).await;
        })
        .await
        .context("serving HTTP")
}

/// A listener that is closed when `stop` is cancelled (connecting is then
/// refused) while the server it feeds still serves the connections it has.
struct RefusingOnStop {
    listener: Option<TcpListener>,
    address: SocketAddr,
    stop: CancellationToken,
}

impl Listener for RefusingOnStop {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        if let Some(listener) = &mut self.listener {
            tokio::select! {
                accepted = Listener::accept(listener) => return accepted,
                () = self.stop.cancelled() => {}
            }
        }
        self.listener = None;
        std::future::pending().await
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.address)
    }
}
