//! Serving an axum router with the limits `axum::serve` leaves out: a deadline for each request
//! head, an end to idle keep-alive connections, and a cap on open connections.
//!
//! `axum::serve` runs hyper without a timer, so hyper's header-read timeout never fires: a client
//! that trickles its request head a byte at a time, or opens a connection and never speaks, holds
//! it (and a file descriptor) for as long as it likes, and a few hundred such clients make the
//! server unreachable (slowloris). [`serve`] runs the same router through hyper with a timer:
//!
//! | limit | default | as actix-web |
//! |---|---|---|
//! | [`ServeLimits::header_read_timeout`]: the whole request head, and the wait for the next one on a kept-alive connection | 5 s | `client_request_timeout` 5 s, `keep_alive` 5 s |
//! | [`ServeLimits::max_connections`]: open connections; past it, new ones wait in the listen backlog | 25 000 | `max_connections` 25 000 per worker |
//! | [`ServeLimits::max_header_bytes`]: the request head's size (431 past it) | 16 KiB | |
//! | [`ServeLimits::shutdown_timeout`]: how long a graceful shutdown waits for requests in flight | 30 s | `shutdown_timeout` 30 s |
//!
//! Bodies have their own deadline in `ValidJson` (`JsonLimits::read_timeout`). The peer address
//! reaches handlers and guards as axum's `ConnectInfo<SocketAddr>`.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use guard_tower::serve::{ServeLimits, serve};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let app = Router::new().route("/health", get(|| async { "ok" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, app, ServeLimits::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

/// The limits of [`serve`]; see the [module docs](self) for the defaults and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a client may take to send a whole request head, and how long a kept-alive
    /// connection may stay idle waiting for the next one.
    pub header_read_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
    /// The largest request head, in bytes.
    pub max_header_bytes: usize,
    /// How long a graceful shutdown waits for requests in flight before closing anyway.
    pub shutdown_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(5),
            max_connections: 25_000,
            max_header_bytes: 16 * 1024,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then stops accepting,
/// lets the requests in flight finish (at most [`ServeLimits::shutdown_timeout`]) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(100);
    tokio::pin!(shutdown);
    loop {
        // At the cap, wait for a connection to close before accepting another: the kernel's
        // backlog holds the newcomers (as actix-web does).
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = PeerService { app: app.clone(), peer };
        let connection = builder.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that breaks off or times out ends its connection; nothing to report.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            timeout = ?limits.shutdown_timeout,
            "requests still in flight at the end of the shutdown timeout; closing them"
        );
    }
    Ok(())
}

/// The router, with the peer address of its connection put where guards and handlers read it.
#[derive(Clone)]
struct PeerService {
    app: Router,
    peer: SocketAddr,
}

impl Service<http::Request<Incoming>> for PeerService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = <Router as Service<axum::extract::Request>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        <Router as Service<axum::extract::Request>>::poll_ready(&mut self.app, cx)
    }

    fn call(&mut self, req: http::Request<Incoming>) -> Self::Future {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        self.app.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start(limits: ServeLimits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, limits, async {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    /// Sends one request on `stream` and reads the answer (`Connection: close` ends it).
    async fn get_peer(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test]
    async fn the_peer_address_reaches_the_handler() {
        let (addr, _stop) = start(ServeLimits::default()).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let answer = get_peer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("127.0.0.1"), "{answer}");
    }

    #[tokio::test]
    async fn past_the_cap_a_connection_waits_until_another_closes() {
        let limits = ServeLimits { max_connections: 2, ..ServeLimits::default() };
        let (addr, _stop) = start(limits).await;
        let mut idle = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            // A request on each, so both are surely accepted and held.
            stream.write_all(b"GET /peer HTTP/1.1\r\nHost: a\r\n\r\n").await.expect("write");
            let mut buf = [0u8; 256];
            let n = stream.read(&mut buf).await.expect("read");
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            idle.push(stream);
        }
        let mut third = TcpStream::connect(addr).await.expect("the backlog accepts");
        let waiting = tokio::time::timeout(Duration::from_millis(300), get_peer(&mut third)).await;
        assert!(waiting.is_err(), "served past the cap");
        drop(idle.pop());
        let answer = tokio::time::timeout(Duration::from_secs(5), get_peer(&mut third))
            .await
            .expect("served once a slot is free");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[tokio::test]
    async fn a_trickled_head_and_an_idle_connection_are_closed_at_the_deadline() {
        let limits = ServeLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ServeLimits::default()
        };
        let (addr, _stop) = start(limits).await;
        for first in [&b"GET /peer HTTP/1.1\r\nHost: a\r\n"[..], b""] {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.write_all(first).await.expect("write");
            let mut buf = Vec::new();
            let closed =
                tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut buf)).await;
            assert!(closed.is_ok(), "held open: {first:?}");
        }
    }

    #[tokio::test]
    async fn shutdown_stops_accepting() {
        let (addr, stop) = start(ServeLimits::default()).await;
        stop.send(()).expect("stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(TcpStream::connect(addr).await.is_err(), "still listening after shutdown");
    }
}
