//! The response as a guard sees it: the status and headers, and the early answers guards give.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::header::{HeaderKey, HeaderValues, PreparedHeader};

/// A mutable view of a response head that each adapter implements over its framework's own
/// response type. Guards amend responses only through it.
pub trait ResponseHead {
    /// The response status.
    fn status(&self) -> StatusCode;
    /// The first value of a header.
    fn header(&self, name: &HeaderName) -> Option<&[u8]>;
    /// Every value of a header, in order.
    fn header_all(&self, name: &HeaderName) -> HeaderValues<'_>;
    /// Sets a prepared header, replacing every existing value (so it is never emitted twice).
    fn set(&mut self, header: &PreparedHeader);
    /// Adds a prepared header after the existing values.
    fn append(&mut self, header: &PreparedHeader);
    /// Sets a value computed for this request, replacing every existing value.
    fn set_value(&mut self, name: &HeaderKey, value: HeaderValue);
    /// Adds a value computed for this request after the existing values.
    fn append_value(&mut self, name: &HeaderKey, value: HeaderValue);
    /// Removes every value of a header.
    fn remove(&mut self, name: &HeaderKey);
}

impl ResponseHead for http::response::Parts {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.headers.get(name).map(|v| v.as_bytes())
    }

    fn header_all(&self, name: &HeaderName) -> HeaderValues<'_> {
        self.headers.get_all(name).iter().map(|v| v.as_bytes()).collect()
    }

    fn set(&mut self, header: &PreparedHeader) {
        self.headers.insert(header.name().clone(), header.value().clone());
    }

    fn append(&mut self, header: &PreparedHeader) {
        self.headers.append(header.name().clone(), header.value().clone());
    }

    fn set_value(&mut self, name: &HeaderKey, value: HeaderValue) {
        self.headers.insert(name.name().clone(), value);
    }

    fn append_value(&mut self, name: &HeaderKey, value: HeaderValue) {
        self.headers.append(name.name().clone(), value);
    }

    fn remove(&mut self, name: &HeaderKey) {
        self.headers.remove(name.name());
    }
}

/// A complete answer given by a guard instead of the handler: a preflight's 204, a 401, a 429.
///
/// Adapters turn it into their framework's response; guards outside the one that gave it amend
/// it through [`ResponseHead`] first.
#[derive(Debug)]
pub struct GuardResponse {
    head: http::response::Parts,
    body: Bytes,
}

impl GuardResponse {
    /// An empty answer with `status`.
    pub fn new(status: StatusCode) -> Self {
        let (mut head, ()) = http::Response::new(()).into_parts();
        head.status = status;
        Self { head, body: Bytes::new() }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.head.headers.append(name, value);
        self
    }

    /// Sets the body (builder style); the caller sets `Content-Type`.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.head.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Status, headers and body, for the adapters.
    pub fn into_parts(self) -> (StatusCode, HeaderMap, Bytes) {
        (self.head.status, self.head.headers, self.body)
    }

    /// As an `http` 1.x response.
    pub fn into_http(self) -> http::Response<Bytes> {
        http::Response::from_parts(self.head, self.body)
    }
}

/// Guards outside the one that answered amend the answer's head.
impl ResponseHead for GuardResponse {
    fn status(&self) -> StatusCode {
        self.head.status
    }

    fn header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.head.header(name)
    }

    fn header_all(&self, name: &HeaderName) -> HeaderValues<'_> {
        self.head.header_all(name)
    }

    fn set(&mut self, header: &PreparedHeader) {
        self.head.set(header)
    }

    fn append(&mut self, header: &PreparedHeader) {
        self.head.append(header)
    }

    fn set_value(&mut self, name: &HeaderKey, value: HeaderValue) {
        self.head.set_value(name, value)
    }

    fn append_value(&mut self, name: &HeaderKey, value: HeaderValue) {
        self.head.append_value(name, value)
    }

    fn remove(&mut self, name: &HeaderKey) {
        self.head.remove(name)
    }
}
