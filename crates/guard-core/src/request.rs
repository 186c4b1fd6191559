//! The request as a guard sees it: the head only, never the body, behind a framework-neutral view.

use std::net::SocketAddr;
use std::ops::Deref;

use http::{Extensions, HeaderName, Method};

use crate::header::HeaderValues;

/// A read-only view of a request head that each adapter implements over its framework's own
/// request type, without copying the header map.
pub trait RequestHead: Sync {
    /// The request method.
    fn method(&self) -> &Method;
    /// The path of the request target, as sent (percent-encoded).
    fn path(&self) -> &str;
    /// The query string without `?`, if any.
    fn query(&self) -> Option<&str>;
    /// The first value of a header.
    fn header(&self, name: &HeaderName) -> Option<&[u8]>;
    /// Every value of a header, in the order received.
    fn header_all(&self, name: &HeaderName) -> HeaderValues<'_>;
    /// The address of the TCP peer (a proxy, when there is one), if the server knows it.
    fn peer_addr(&self) -> Option<SocketAddr>;
}

/// A [`RequestHead`] over `http` 1.x request parts: what the Tower adapter uses, and what tests
/// and custom integrations can use directly.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequestHead<'a> {
    parts: &'a http::request::Parts,
    peer: Option<SocketAddr>,
}

impl<'a> HttpRequestHead<'a> {
    /// A view of `parts`, received from `peer`.
    pub fn new(parts: &'a http::request::Parts, peer: Option<SocketAddr>) -> Self {
        Self { parts, peer }
    }
}

impl RequestHead for HttpRequestHead<'_> {
    fn method(&self) -> &Method {
        &self.parts.method
    }

    fn path(&self) -> &str {
        self.parts.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.parts.uri.query()
    }

    fn header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.parts.headers.get(name).map(|v| v.as_bytes())
    }

    fn header_all(&self, name: &HeaderName) -> HeaderValues<'_> {
        self.parts.headers.get_all(name).iter().map(|v| v.as_bytes()).collect()
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

/// One request passing through a stack of guards: the head, and the extensions the guards leave
/// for each other and for the handler (verified claims, a CSP nonce, the client IP).
///
/// It dereferences to the [`RequestHead`], so `req.header(..)` and `req.method()` work directly.
pub struct GuardRequest<'r> {
    head: &'r dyn RequestHead,
    extensions: Extensions,
}

impl<'r> GuardRequest<'r> {
    /// Starts a guard pass over `head`, with no extensions yet.
    pub fn new(head: &'r dyn RequestHead) -> Self {
        Self { head, extensions: Extensions::new() }
    }

    /// The request head.
    pub fn head(&self) -> &'r dyn RequestHead {
        self.head
    }

    /// What earlier guards of this pass left.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Where a guard leaves data for later guards and for the handler; the adapter moves it into
    /// the framework's request once every guard has passed.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The extensions left by the guards, for the adapter.
    pub fn into_extensions(self) -> Extensions {
        self.extensions
    }
}

impl<'r> Deref for GuardRequest<'r> {
    type Target = dyn RequestHead + 'r;

    fn deref(&self) -> &Self::Target {
        self.head
    }
}

impl std::fmt::Debug for GuardRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardRequest")
            .field("method", self.head.method())
            .field("path", &self.head.path())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    #[test]
    fn http_head_exposes_the_parts() {
        let (parts, ()) = Request::post("/a/b?x=1")
            .header("x-forwarded-for", "1.1.1.1")
            .header("x-forwarded-for", "2.2.2.2")
            .body(())
            .unwrap()
            .into_parts();
        let peer: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let head = HttpRequestHead::new(&parts, Some(peer));
        let req = GuardRequest::new(&head);
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.path(), "/a/b");
        assert_eq!(req.query(), Some("x=1"));
        let xff = HeaderName::from_static("x-forwarded-for");
        assert_eq!(req.header(&xff), Some(&b"1.1.1.1"[..]));
        assert_eq!(req.header_all(&xff).collect::<Vec<_>>(), [b"1.1.1.1", b"2.2.2.2"]);
        assert_eq!(req.peer_addr(), Some(peer));
    }
}
