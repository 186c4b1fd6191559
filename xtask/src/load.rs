//! The load generator of `cargo xtask bench`: keep-alive HTTP/1.1 connections, one thread
//! each, that send one request again and again and time each answer.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How many keep-alive connections (client threads) a run uses.
pub const CONNECTIONS: usize = 16;

/// The longest a run may take before it stops with what it has.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// Longest wait for one answer before the connection counts as broken.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP/1.1 request on a keep-alive connection.
pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// One answer: the status and body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A keep-alive client connection: writes a request, reads one answer (Content-Length bodies
/// only: what both servers send), and reconnects when the server closes.
pub struct Conn {
    addr: SocketAddr,
    pub stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, stream: None, buf: Vec::with_capacity(16 * 1024) }
    }

    pub fn send(&mut self, request: &[u8]) -> io::Result<Reply> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(stream);
            self.buf.clear();
        }
        let result = self.exchange(request);
        if !matches!(result, Ok((_, true))) {
            // Closed by the server, or broken: the next request opens a new connection.
            self.stream = None;
        }
        result.map(|(reply, _)| reply)
    }

    /// The answer, and whether the connection stays open.
    fn exchange(&mut self, request: &[u8]) -> io::Result<(Reply, bool)> {
        let stream = self.stream.as_mut().ok_or_else(|| io::Error::other("not connected"))?;
        stream.write_all(request)?;
        let head_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos + 4;
            }
            if self.buf.len() > 64 * 1024 {
                return Err(invalid("response head over 64 KiB"));
            }
            fill(stream, &mut self.buf)?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| invalid("response head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| invalid("no status line"))?;
        let (mut length, mut close) = (None, false);
        for (name, value) in lines.filter_map(|line| line.split_once(':')) {
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| invalid("bad Content-Length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(invalid("chunked answers are not supported by this client"));
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let length = match (length, status) {
            (Some(length), _) => length,
            (None, 204 | 304) => 0,
            (None, _) => return Err(invalid("an answer without Content-Length")),
        };
        while self.buf.len() < head_end + length {
            fill(stream, &mut self.buf)?;
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        Ok((Reply { status, body }, !close))
    }
}

/// Reads what is available into `buf`; end of stream is an error (an answer was due).
pub fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk)? {
        0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-answer")),
        n => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// What one load run saw.
pub struct Run {
    /// Requests answered (with any status).
    pub done: usize,
    /// From the start signal to the last answer.
    pub elapsed: Duration,
    /// Per request, from writing the request to the end of the answer, sorted.
    pub latencies: Vec<Duration>,
    /// Requests answered with another status than 200.
    pub unexpected: usize,
    /// A few of those, and broken connections, to show.
    pub samples: Vec<String>,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    pub fn percentile(&self, p: usize) -> Duration {
        match self.latencies.len() {
            0 => Duration::ZERO,
            n => self.latencies[(n * p / 100).min(n - 1)],
        }
    }

    /// Prints what went wrong, if anything; whether every answer was as expected.
    pub fn report_unexpected(&self, scenario: &str, target: &str) -> bool {
        if self.unexpected == 0 && self.samples.is_empty() {
            return true;
        }
        eprintln!("{target}, {scenario}: {} unexpected answers; first ones:", self.unexpected);
        for sample in &self.samples {
            eprintln!("  {sample}");
        }
        false
    }
}

/// Sends `total` requests over [`CONNECTIONS`] keep-alive connections, one thread each,
/// stopping early at [`RUN_DEADLINE`]. Every answer is expected to be a 200.
pub fn drive(addr: SocketAddr, request: &[u8], total: usize) -> Run {
    let next = AtomicUsize::new(0);
    let start_line = Barrier::new(CONNECTIONS + 1);
    let deadline = Instant::now() + RUN_DEADLINE;
    let (per_thread, start) = thread::scope(|scope| {
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                scope.spawn(|| {
                    let mut conn = Conn::new(addr);
                    let mut latencies = Vec::with_capacity(total / CONNECTIONS + 1);
                    let mut unexpected = 0;
                    let mut samples = Vec::new();
                    start_line.wait();
                    while next.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline
                    {
                        let sent = Instant::now();
                        match conn.send(request) {
                            Ok(reply) => {
                                latencies.push(sent.elapsed());
                                if reply.status != 200 {
                                    unexpected += 1;
                                    if samples.len() < 3 {
                                        let body = String::from_utf8_lossy(&reply.body);
                                        samples.push(format!("{}: {body:.300}", reply.status));
                                    }
                                }
                            }
                            Err(err) => {
                                samples.push(format!("connection failed: {err}"));
                                break;
                            }
                        }
                    }
                    (latencies, unexpected, samples, Instant::now())
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        let results: Vec<_> = workers
            .into_iter()
            .map(|worker| match worker.join() {
                Ok(result) => result,
                Err(_) => (Vec::new(), 0, vec!["a client thread panicked".into()], Instant::now()),
            })
            .collect();
        (results, start)
    });
    let mut run = Run {
        done: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(total),
        unexpected: 0,
        samples: Vec::new(),
    };
    for (latencies, unexpected, samples, finished) in per_thread {
        run.latencies.extend(latencies);
        run.unexpected += unexpected;
        run.samples.extend(samples.into_iter().take(3));
        run.elapsed = run.elapsed.max(finished.saturating_duration_since(start));
    }
    run.done = run.latencies.len();
    run.latencies.sort_unstable();
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_sample_at_their_rank() {
        let run = Run {
            done: 100,
            elapsed: Duration::from_secs(1),
            latencies: (1..=100).map(Duration::from_millis).collect(),
            unexpected: 0,
            samples: Vec::new(),
        };
        assert_eq!(run.percentile(50), Duration::from_millis(51));
        assert_eq!(run.percentile(99), Duration::from_millis(100));
        assert_eq!(run.percentile(100), Duration::from_millis(100), "never past the end");
        assert_eq!(Run { latencies: Vec::new(), ..run }.percentile(99), Duration::ZERO);
    }
}
