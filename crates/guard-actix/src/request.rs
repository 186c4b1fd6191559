//! The request head of an actix-web request, lent to the guards as the core's view.

use std::net::SocketAddr;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderMap;
use guard_core::{HeaderValues, RequestHead};
use http::{HeaderName, Method};

/// Borrows the parts of an actix-web request that guards read. Only the method is converted
/// (a table lookup for the standard ones); headers are looked up in actix-web's own map.
pub(crate) struct ActixRequestHead<'a> {
    method: Method,
    path: &'a str,
    query: &'a str,
    headers: &'a HeaderMap,
    peer: Option<SocketAddr>,
}

impl<'a> ActixRequestHead<'a> {
    /// `None` only for a method `http` 1.x cannot represent, which `http` 0.2 would not have
    /// parsed either.
    pub(crate) fn new(req: &'a ServiceRequest) -> Option<Self> {
        Some(Self {
            method: Method::from_bytes(req.method().as_str().as_bytes()).ok()?,
            path: req.path(),
            query: req.query_string(),
            headers: req.headers(),
            peer: req.peer_addr(),
        })
    }
}

impl RequestHead for ActixRequestHead<'_> {
    fn method(&self) -> &Method {
        &self.method
    }

    fn path(&self) -> &str {
        self.path
    }

    fn query(&self) -> Option<&str> {
        (!self.query.is_empty()).then_some(self.query)
    }

    fn header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.headers.get(name.as_str()).map(|v| v.as_bytes())
    }

    fn header_all(&self, name: &HeaderName) -> HeaderValues<'_> {
        self.headers.get_all(name.as_str()).map(|v| v.as_bytes()).collect()
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}
