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

#[cfg(test)]
mod tests {
    /// Why the middleware's answer to an unconvertible method never happens: every method
    /// actix-web's `http` 0.2 accepts, `http` 1.x accepts too (its token set is a superset), so
    /// every request reaches the guards.
    #[test]
    fn every_method_http_02_parses_converts_to_http_1() {
        let mut accepted = 0;
        for a in 0..=u8::MAX {
            for candidate in [vec![a], vec![b'X', a, b'Y'], vec![a; 20]] {
                if let Ok(old) = http02::Method::from_bytes(&candidate) {
                    accepted += 1;
                    let new = http::Method::from_bytes(old.as_str().as_bytes());
                    assert!(new.is_ok(), "{:?} parses in http 0.2 only", old.as_str());
                }
            }
        }
        assert!(accepted > 200, "the loop tried real methods: {accepted}");
    }
}
