//! A TCP proxy for fault tests: it sits between a client and a real server (a Redis) and can
//! delay what the client sends (a slow or paused server: every answer late, none lost) or cut
//! every connection, on command while the test runs.
//!
//! It runs on a thread and runtime of its own, so that a stalled test runtime cannot stall it.
//!
//! ```no_run
//! use std::time::Duration;
//! use guard_tests::proxy::{FaultProxy, Fault};
//! use guard_tests::redis_server::RedisServer;
//!
//! let redis = RedisServer::start();
//! let proxy = FaultProxy::start(redis.addr());
//! println!("{}", proxy.url()); // redis://127.0.0.1:<port>, through the proxy
//! proxy.set(Fault::Delay(Duration::from_millis(300))); // every command 300 ms late
//! proxy.set(Fault::Reset); // every connection cut, new ones closed at once
//! proxy.set(Fault::None);
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the traffic from clients to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards at once.
    None,
    /// Forwards each chunk after this delay (in order: later chunks wait behind it).
    Delay(Duration),
    /// Forwards the next chunk after this delay, then goes back to [`Fault::None`]: one slow
    /// call (what follows it waits only for it).
    DelayOnce(Duration),
    /// Forwards what clients send, but drops the connection instead of passing on the next
    /// answer, then goes back to [`Fault::None`]: a command the server ran whose answer the
    /// client never got (a connection lost at the worst moment).
    LoseNextAnswer,
    /// Closes every connection now and each new one at once (a reset, as a crashed server).
    Reset,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    fault: Arc<watch::Sender<Fault>>,
    connections: Arc<Mutex<u64>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free loopback port, forwarding.
    pub fn start(upstream: SocketAddr) -> Self {
        let fault = Arc::new(watch::channel(Fault::None).0);
        let shared = fault.clone();
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let connections = Arc::new(Mutex::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the proxy");
            runtime.block_on(async move {
                let listener =
                    TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy's port");
                let _ = ready_tx.send(listener.local_addr().expect("a bound address"));
                tokio::select! {
                    _ = stop_rx => {}
                    _ = accept_loop(listener, upstream, shared, counted) => {}
                }
            });
        });
        let addr = ready_rx.recv().expect("the proxy started");
        Self { addr, fault, connections, _stop: stop }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `redis://<addr>`: a Redis URL through the proxy.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Changes what the proxy does, for connections open now and later.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        *self.connections.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: Arc<watch::Sender<Fault>>,
    connections: Arc<Mutex<u64>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        *connections.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        if *fault.borrow() == Fault::Reset {
            drop(client);
            continue;
        }
        let fault = fault.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else { return };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            pipe(client, server, fault).await;
        });
    }
}

/// Copies what `from` sends to `to`, chunk by chunk, until either side closes or `before` (awaited
/// before each chunk is passed on) says to stop.
async fn forward<F: Future<Output = bool>>(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut before: impl FnMut() -> F,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !before().await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Applies the fault set now to one chunk on its way to the server: waits out a delay; `false`
/// for a reset (the chunk is dropped with the connection).
async fn apply(control: Arc<watch::Sender<Fault>>) -> bool {
    let now = *control.borrow();
    match now {
        Fault::None => {}
        Fault::Delay(delay) => tokio::time::sleep(delay).await,
        Fault::DelayOnce(delay) => {
            control.send_if_modified(|f| {
                let once = matches!(f, Fault::DelayOnce(_));
                if once {
                    *f = Fault::None;
                }
                once
            });
            tokio::time::sleep(delay).await;
        }
        Fault::Reset => return false,
        Fault::LoseNextAnswer => {}
    }
    true
}

/// Copies both ways until either side closes or the fault becomes [`Fault::Reset`].
async fn pipe(client: TcpStream, server: TcpStream, control: Arc<watch::Sender<Fault>>) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mut fault = control.subscribe();
    let up = control.clone();
    let upward = forward(client_read, server_write, move || apply(up.clone()));
    let downward = forward(server_read, client_write, move || {
        // An answer to lose: drop the connection instead of forwarding it, once.
        let lose = control.send_if_modified(|f| {
            let once = *f == Fault::LoseNextAnswer;
            if once {
                *f = Fault::None;
            }
            once
        });
        std::future::ready(!lose)
    });
    let reset = async move {
        loop {
            if *fault.borrow_and_update() == Fault::Reset {
                return;
            }
            if fault.changed().await.is_err() {
                // The proxy is gone: wait for the copies to end by themselves.
                std::future::pending::<()>().await;
            }
        }
    };
    // Whichever ends first closes both directions (dropping the halves closes the sockets).
    tokio::select! {
        _ = upward => {}
        _ = downward => {}
        _ = reset => {}
    }
}
