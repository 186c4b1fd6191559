//! An actix-web response head, amended by the guards through the core's view.

use actix_web::http::header::HeaderMap;
use guard_core::{HeaderKey, HeaderValues, PreparedHeader, ResponseHead};
use http::{HeaderName, HeaderValue, StatusCode};

/// Lends an actix-web response's status and headers to the guards' response step.
pub(crate) struct ActixResponseHead<'a> {
    status: StatusCode,
    headers: &'a mut HeaderMap,
}

impl<'a> ActixResponseHead<'a> {
    pub(crate) fn new(status: actix_web::http::StatusCode, headers: &'a mut HeaderMap) -> Self {
        let status =
            StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, headers }
    }
}

/// A value computed for this request, in `http` 0.2 form (both crates accept the same bytes).
fn value02(value: &HeaderValue) -> Option<http02::HeaderValue> {
    let mut v = http02::HeaderValue::from_bytes(value.as_bytes()).ok()?;
    v.set_sensitive(value.is_sensitive());
    Some(v)
}

impl ResponseHead for ActixResponseHead<'_> {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.headers.get(name.as_str()).map(|v| v.as_bytes())
    }

    fn header_all(&self, name: &HeaderName) -> HeaderValues<'_> {
        self.headers.get_all(name.as_str()).map(|v| v.as_bytes()).collect()
    }

    fn set(&mut self, header: &PreparedHeader) {
        self.headers.insert(header.key().http02().clone(), header.http02_value().clone());
    }

    fn append(&mut self, header: &PreparedHeader) {
        self.headers.append(header.key().http02().clone(), header.http02_value().clone());
    }

    fn set_value(&mut self, name: &HeaderKey, value: HeaderValue) {
        if let Some(value) = value02(&value) {
            self.headers.insert(name.http02().clone(), value);
        }
    }

    fn append_value(&mut self, name: &HeaderKey, value: HeaderValue) {
        if let Some(value) = value02(&value) {
            self.headers.append(name.http02().clone(), value);
        }
    }

    fn remove(&mut self, name: &HeaderKey) {
        self.headers.remove(name.http02());
    }
}
