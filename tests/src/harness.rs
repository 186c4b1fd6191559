//! One request, sent through an actix-web app and an axum router in process, and the two answers
//! reduced to what both frameworks can be compared on: the kit behind every test that proves a
//! behaviour identical through both adapters.
//!
//! Each test builds its own two apps (the part that differs by framework); this module builds
//! the requests (headers, a peer address, a body in one piece, in chunks or without end) and
//! reads the answers.
//!
//! ```no_run
//! use guard_tests::harness::{Answer, Req, call_actix, call_axum, same};
//!
//! # async fn demo(actix_app: &impl actix_web::dev::Service<actix_http::Request,
//! #     Response = actix_web::dev::ServiceResponse, Error = actix_web::Error>, axum_app: axum::Router) {
//! let r = Req::get("/echo").header("origin", "https://app.example.com");
//! let [actix, axum] = [call_actix(actix_app, &r).await, call_axum(axum_app, &r).await];
//! same(&actix, &axum);
//! assert_eq!(actix.status, 200);
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test as actix_test;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A request body.
#[derive(Clone, Debug, Default)]
pub enum Payload {
    /// None.
    #[default]
    Empty,
    /// In one piece, with `Content-Length`.
    Sized(Vec<u8>),
    /// In these chunks, without `Content-Length` (chunked transfer).
    Chunked(Vec<&'static [u8]>),
    /// [`ENDLESS_CHUNK`] bytes of spaces at a time, without end; the counter counts how many
    /// chunks were read.
    Endless(Arc<AtomicUsize>),
}

/// The size of one chunk of a [`Payload::Endless`] body.
pub const ENDLESS_CHUNK: usize = 1024;

fn endless_chunk(pulled: &AtomicUsize) -> Bytes {
    pulled.fetch_add(1, Ordering::SeqCst);
    Bytes::from_static(&[b' '; ENDLESS_CHUNK])
}

/// A request for both frameworks.
#[derive(Clone, Debug)]
pub struct Req {
    /// The method.
    pub method: &'static str,
    /// The path and query.
    pub uri: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub payload: Payload,
    /// The peer address the server sees, if any.
    pub peer: Option<SocketAddr>,
}

impl Req {
    /// A `method` request for `uri`, no headers, no body, no peer address.
    pub fn new(method: &'static str, uri: impl Into<String>) -> Self {
        Self { method, uri: uri.into(), headers: Vec::new(), payload: Payload::Empty, peer: None }
    }

    /// `GET uri`.
    pub fn get(uri: impl Into<String>) -> Self {
        Self::new("GET", uri)
    }

    /// `POST uri`.
    pub fn post(uri: impl Into<String>) -> Self {
        Self::new("POST", uri)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// A JSON body in one piece, with `Content-Type: application/json`.
    pub fn json(self, body: &str) -> Self {
        self.header("content-type", "application/json").payload(Payload::Sized(body.into()))
    }

    /// Sets the body.
    pub fn payload(mut self, payload: Payload) -> Self {
        self.payload = payload;
        self
    }

    /// Sets the peer address.
    pub fn peer(mut self, peer: &str) -> Self {
        self.peer = Some(peer.parse().expect("a socket address"));
        self
    }
}

/// A response reduced to what both frameworks can be compared on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Every header, sorted by name then value.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl Answer {
    fn new(status: u16, mut headers: Vec<(String, String)>, body: &[u8]) -> Self {
        headers.sort();
        Self { status, headers, body: String::from_utf8_lossy(body).into_owned() }
    }

    /// The values of header `name` (lower case), in order.
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// `Content-Type`, or empty.
    pub fn content_type(&self) -> &str {
        self.header("content-type").first().copied().unwrap_or("")
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// The body as a problem, checked to be served as `application/problem+json`.
    pub fn problem(&self) -> Value {
        assert_eq!(self.content_type(), "application/problem+json", "{self:?}");
        self.json()
    }

    /// The headers but those that differ by framework for reasons outside guard (framing).
    pub fn comparable_headers(&self) -> Vec<(String, String)> {
        self.headers.iter().filter(|(n, _)| n != "content-length" && n != "date").cloned().collect()
    }
}

/// Sends `r` to an actix-web app made with `actix_web::test::init_service`.
pub async fn call_actix<S, B>(app: &S, r: &Req) -> Answer
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let method = actix_web::http::Method::from_bytes(r.method.as_bytes()).expect("a method");
    let mut t = actix_test::TestRequest::default().method(method).uri(&r.uri);
    if let Some(peer) = r.peer {
        t = t.peer_addr(peer);
    }
    for (name, value) in &r.headers {
        t = t.insert_header((name.as_str(), value.as_str()));
    }
    type Stream = std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>>>,
    >;
    let request = match &r.payload {
        Payload::Empty => t.to_request(),
        Payload::Sized(bytes) => t.set_payload(bytes.clone()).to_request(),
        Payload::Chunked(chunks) => {
            let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> =
                chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
            let stream: Stream = Box::pin(futures_util::stream::iter(chunks));
            t.to_request().replace_payload(actix_web::dev::Payload::from(stream)).0
        }
        Payload::Endless(pulled) => {
            let pulled = pulled.clone();
            let stream: Stream =
                Box::pin(futures_util::stream::repeat_with(move || Ok(endless_chunk(&pulled))));
            t.to_request().replace_payload(actix_web::dev::Payload::from(stream)).0
        }
    };
    let res = match app.call(request).await {
        Ok(res) => res,
        // An error escaping every middleware: what actix-web would render for it.
        Err(err) => {
            let res = err.error_response();
            let status = res.status().as_u16();
            let headers =
                header_list(res.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
            let body = actix_web::body::to_bytes(res.into_body()).await.unwrap_or_default();
            return Answer::new(status, headers, &body);
        }
    };
    let status = res.status().as_u16();
    let headers = header_list(res.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap_or_default();
    Answer::new(status, headers, &body)
}

/// Sends `r` to an axum router, the peer address as `ConnectInfo`.
pub async fn call_axum(app: axum::Router, r: &Req) -> Answer {
    let mut b = http::Request::builder().method(r.method).uri(&r.uri);
    for (name, value) in &r.headers {
        b = b.header(name.as_str(), value.as_str());
    }
    let body = match &r.payload {
        Payload::Empty => axum::body::Body::empty(),
        Payload::Sized(bytes) => {
            b = b.header("content-length", bytes.len());
            axum::body::Body::from(bytes.clone())
        }
        Payload::Chunked(chunks) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
            axum::body::Body::from_stream(futures_util::stream::iter(chunks))
        }
        Payload::Endless(pulled) => {
            let pulled = pulled.clone();
            axum::body::Body::from_stream(futures_util::stream::repeat_with(move || {
                Ok::<_, std::io::Error>(endless_chunk(&pulled))
            }))
        }
    };
    let mut request = b.body(body).expect("a request");
    if let Some(peer) = r.peer {
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    }
    let res = app.oneshot(request).await.expect("axum routers are infallible");
    let status = res.status().as_u16();
    let headers = header_list(res.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
    let body = res.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    Answer::new(status, headers, &body)
}

fn header_list<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, String)> {
    headers.map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned())).collect()
}

/// Asserts that both frameworks gave the same answer: status, body, and every header but
/// framing.
pub fn same(actix: &Answer, axum: &Answer) {
    assert_eq!(actix.status, axum.status, "status: actix {actix:?} / axum {axum:?}");
    assert_eq!(actix.body, axum.body, "body: actix {actix:?} / axum {axum:?}");
    assert_eq!(
        actix.comparable_headers(),
        axum.comparable_headers(),
        "headers: actix {actix:?} / axum {axum:?}"
    );
}
