//! Origins: parsing a serialized origin into its normal form, and the allowlist that matches a
//! request's `Origin` against configured origins and subdomain patterns.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use guard_core::RequestHead;

use crate::error::{CorsError, NotASubdomainPattern, NotAnOrigin};

/// The `*` entry of `allow_origins`, `allow_headers` and `expose_headers`.
pub(crate) const ANY: &str = "*";

/// The predicate of [`CorsPolicy::allow_origin_fn`](crate::CorsPolicy::allow_origin_fn): the
/// request's origin in normal form, and the request head.
#[derive(Clone)]
pub(crate) struct OriginPredicate(Arc<PredicateFn>);

type PredicateFn = dyn Fn(&str, &dyn RequestHead) -> bool + Send + Sync;

impl OriginPredicate {
    pub(crate) fn new<F>(predicate: F) -> Self
    where
        F: Fn(&str, &dyn RequestHead) -> bool + Send + Sync + 'static,
    {
        Self(Arc::new(predicate))
    }

    pub(crate) fn allows(&self, origin: &str, head: &dyn RequestHead) -> bool {
        (self.0)(origin, head)
    }
}

/// A closure has no `Debug`: `"<fn>"` stands in for it, so that the policy can derive `Debug` and
/// the guard list the predicate like any other field.
impl fmt::Debug for OriginPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt("<fn>", f)
    }
}

/// The two schemes whose origins can make CORS requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An origin parsed and brought into normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedOrigin<'a> {
    pub(crate) scheme: Scheme,
    /// The host in normal form: lower case, IPv6 in brackets and compressed.
    pub(crate) host: Cow<'a, str>,
    pub(crate) is_ip: bool,
    /// The port, `None` when absent or the scheme's default.
    pub(crate) port: Option<u16>,
    /// `scheme://host[:port]` in normal form; borrowed when the input already was in normal form.
    pub(crate) serialized: Cow<'a, str>,
}

/// Parses `input` as a serialized origin and brings it into normal form.
///
/// Does not allocate when `input` is already in normal form, as browsers send it.
pub(crate) fn parse_origin(input: &str) -> Result<ParsedOrigin<'_>, NotAnOrigin> {
    if input.is_empty() {
        return Err(NotAnOrigin::Empty);
    }
    let Some((scheme_str, rest)) = input.split_once("://") else {
        return Err(NotAnOrigin::MissingScheme);
    };
    let scheme = parse_scheme(scheme_str)?;
    let mut changed = scheme_str != scheme.as_str();

    if let Some(i) = rest.find(['/', '\\', '?', '#', '@']) {
        return Err(match rest.as_bytes()[i] {
            b'@' => NotAnOrigin::HasUserinfo,
            b'?' => NotAnOrigin::HasQuery,
            b'#' => NotAnOrigin::HasFragment,
            _ if i + 1 == rest.len() => NotAnOrigin::TrailingSlash,
            _ => NotAnOrigin::HasPath,
        });
    }
    if rest.contains('*') {
        return Err(NotAnOrigin::Wildcard);
    }
    if rest.is_empty() {
        return Err(NotAnOrigin::EmptyHost);
    }

    let (host_str, port_str) = split_host_port(rest)?;
    let (host, is_ip) = parse_host(host_str)?;
    changed |= matches!(host, Cow::Owned(_));

    let port = match port_str {
        None => None,
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(NotAnOrigin::InvalidPort);
            }
            let port: u16 = p.parse().map_err(|_| NotAnOrigin::InvalidPort)?;
            // A default port is dropped; leading zeros are not part of the normal form.
            changed |= port == scheme.default_port() || (p.len() > 1 && p.starts_with('0'));
            (port != scheme.default_port()).then_some(port)
        }
    };

    let serialized = if changed {
        let mut s = String::with_capacity(input.len());
        s.push_str(scheme.as_str());
        s.push_str("://");
        s.push_str(&host);
        if let Some(port) = port {
            let _ = write!(s, ":{port}");
        }
        Cow::Owned(s)
    } else {
        Cow::Borrowed(input)
    };
    Ok(ParsedOrigin { scheme, host, is_ip, port, serialized })
}

fn parse_scheme(s: &str) -> Result<Scheme, NotAnOrigin> {
    let well_formed = s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !well_formed {
        return Err(NotAnOrigin::MissingScheme);
    }
    if s.eq_ignore_ascii_case("https") {
        Ok(Scheme::Https)
    } else if s.eq_ignore_ascii_case("http") {
        Ok(Scheme::Http)
    } else {
        Err(NotAnOrigin::UnsupportedScheme)
    }
}

/// Splits `host[:port]` or `[ipv6][:port]`.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), NotAnOrigin> {
    if authority.starts_with('[') {
        let end = authority.find(']').ok_or(NotAnOrigin::InvalidHost)?;
        let (host, after) = authority.split_at(end + 1);
        if after.is_empty() {
            Ok((host, None))
        } else {
            let port = after.strip_prefix(':').ok_or(NotAnOrigin::InvalidHost)?;
            Ok((host, Some(port)))
        }
    } else {
        Ok(match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        })
    }
}

/// Validates a host and brings it into normal form; the flag says whether it is an IP address.
fn parse_host(host: &str) -> Result<(Cow<'_, str>, bool), NotAnOrigin> {
    if host.is_empty() {
        return Err(NotAnOrigin::EmptyHost);
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(NotAnOrigin::InvalidHost)?;
        let addr: Ipv6Addr = inner.parse().map_err(|_| NotAnOrigin::InvalidHost)?;
        let normal = serialize_ipv6(addr);
        return Ok((if normal == host { Cow::Borrowed(host) } else { Cow::Owned(normal) }, true));
    }
    if !host.is_ascii() {
        return Err(NotAnOrigin::NonAsciiHost);
    }
    let mut upper = false;
    for b in host.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {}
            b'A'..=b'Z' => upper = true,
            _ => return Err(NotAnOrigin::InvalidHost),
        }
    }
    if host.split('.').any(str::is_empty) {
        return Err(NotAnOrigin::InvalidHost);
    }
    let host = if upper { Cow::Owned(host.to_ascii_lowercase()) } else { Cow::Borrowed(host) };
    // A host whose last label is a number is an IPv4 address to browsers (WHATWG URL "ends in a
    // number"); only the dotted-decimal form, which they send, is accepted.
    let last = host.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        let addr: Ipv4Addr = host.parse().map_err(|_| NotAnOrigin::InvalidHost)?;
        if addr.to_string() != host {
            return Err(NotAnOrigin::InvalidHost);
        }
        return Ok((host, true));
    }
    Ok((host, false))
}

/// The WHATWG URL serialization of an IPv6 host: lower-case hex, the first longest run of two or
/// more zero pieces compressed, in brackets.
fn serialize_ipv6(addr: Ipv6Addr) -> String {
    let pieces = addr.segments();
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < pieces.len() {
        if pieces[i] == 0 {
            let start = i;
            while i < pieces.len() && pieces[i] == 0 {
                i += 1;
            }
            let len = i - start;
            if len >= 2 && best.is_none_or(|(_, best_len)| len > best_len) {
                best = Some((start, len));
            }
        } else {
            i += 1;
        }
    }
    let mut out = String::with_capacity(41);
    out.push('[');
    let mut i = 0;
    while i < pieces.len() {
        if let Some((start, len)) = best
            && i == start
        {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += len;
            continue;
        }
        let _ = write!(out, "{:x}", pieces[i]);
        if i + 1 < pieces.len() {
            out.push(':');
        }
        i += 1;
    }
    out.push(']');
    out
}

/// A subdomain pattern parsed: scheme, port and the domain whose subdomains it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubdomainPattern {
    scheme: Scheme,
    port: Option<u16>,
    domain: String,
}

/// Parses `scheme://*.domain[:port]`.
pub(crate) fn parse_subdomain_pattern(
    input: &str,
) -> Result<SubdomainPattern, NotASubdomainPattern> {
    let Some((scheme, rest)) = input.split_once("://") else {
        return Err(NotASubdomainPattern::Base(NotAnOrigin::MissingScheme));
    };
    let Some(base) = rest.strip_prefix("*.") else {
        return Err(NotASubdomainPattern::MissingWildcard);
    };
    if base.contains('*') {
        return Err(NotASubdomainPattern::MissingWildcard);
    }
    let base = format!("{scheme}://{base}");
    let parsed = parse_origin(&base).map_err(NotASubdomainPattern::Base)?;
    if parsed.is_ip {
        return Err(NotASubdomainPattern::IpAddress);
    }
    if !parsed.host.contains('.') {
        return Err(NotASubdomainPattern::TooBroad);
    }
    Ok(SubdomainPattern {
        scheme: parsed.scheme,
        port: parsed.port,
        domain: parsed.host.into_owned(),
    })
}

/// Whether `entry` is the `null` origin (compared without regard to case, so `NULL` in a config
/// file cannot slip through as something else).
pub(crate) fn is_null(entry: &str) -> bool {
    entry.trim().eq_ignore_ascii_case("null")
}

/// How a request's origin matched an [`OriginAllowlist`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllowlistMatch {
    /// An exact origin, by its index in [`OriginAllowlist::origins`]; `as_listed` when the
    /// request's bytes are the listed origin's normal form itself.
    Exact { index: usize, as_listed: bool },
    /// A subdomain pattern.
    Subdomain,
}

/// Exact origins and subdomain patterns, parsed and normalised once, matched without allocating.
///
/// Built by [`CorsPolicy::build`](crate::CorsPolicy::build) from `allow_origins` and
/// `allow_subdomains_of`; also usable on its own, for instance to check `Origin` against the same
/// list in a CSRF defence. `*` (any origin) and `null` are not origins and have no place in it:
/// they are switches of the [`CorsPolicy`](crate::CorsPolicy).
///
/// Browsers send `Origin` as `scheme://host[:port]`, with the scheme and host in lower case and
/// the scheme's default port left out. Configured origins are parsed and brought into that same
/// form once, when the allowlist is built, so `https://App.Example.com:443` in a config file
/// allows what browsers send as `https://app.example.com`. Anything that is not an origin (a path,
/// a trailing slash, a missing scheme, `user@`, a query) is refused with a [`NotAnOrigin`] reason
/// rather than silently never matching.
///
/// Exact origins are looked up in a hash set, so the cost per request does not grow with the
/// list. Subdomain patterns (`https://*.example.com`) match on whole host labels: a request's host
/// matches when one of its proper suffixes after a `.` is the pattern's domain, with the same
/// scheme and port. There are no regular expressions to forget to anchor: `evil-example.com` and
/// `example.com.evil.com` never match `*.example.com`, nor does `example.com` itself.
///
/// ```
/// use guard_cors::OriginAllowlist;
///
/// let list = OriginAllowlist::new(
///     ["https://App.Example.com:443", "http://localhost:3000"],
///     ["https://*.example.org"],
/// )?;
/// assert!(list.allows("https://app.example.com"));
/// assert!(list.allows("http://localhost:3000"));
/// assert!(list.allows("https://eu.api.example.org"));
/// assert!(!list.allows("https://example.org"));
/// assert!(!list.allows("https://evil-example.org"));
/// assert!(!list.allows("http://eu.example.org"));
/// assert_eq!(list.origins().collect::<Vec<_>>(), ["https://app.example.com", "http://localhost:3000"]);
/// # Ok::<(), guard_cors::CorsError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct OriginAllowlist {
    /// Normal form -> index into `listed`.
    exact: HashMap<Box<str>, usize>,
    /// The exact origins in normal form, in configured order, without duplicates.
    listed: Vec<Box<str>>,
    /// (scheme, port) -> domains whose proper subdomains are allowed.
    subdomains: HashMap<(Scheme, Option<u16>), HashSet<Box<str>>>,
}

impl OriginAllowlist {
    /// Parses and normalises `origins` (`https://app.example.com`) and `subdomain_patterns`
    /// (`https://*.example.com`), refusing anything that is not one.
    pub fn new<O, P>(origins: O, subdomain_patterns: P) -> Result<Self, CorsError>
    where
        O: IntoIterator,
        O::Item: AsRef<str>,
        P: IntoIterator,
        P::Item: AsRef<str>,
    {
        let mut list = Self::default();
        for entry in origins {
            let entry = entry.as_ref();
            if is_null(entry) {
                return Err(CorsError::NullOriginNotEnabled);
            }
            let parsed = parse_origin(entry.trim())
                .map_err(|reason| CorsError::InvalidOrigin { entry: entry.to_owned(), reason })?;
            let normal: Box<str> = parsed.serialized.into();
            if !list.exact.contains_key(&normal) {
                list.exact.insert(normal.clone(), list.listed.len());
                list.listed.push(normal);
            }
        }
        for entry in subdomain_patterns {
            let entry = entry.as_ref();
            let pattern = parse_subdomain_pattern(entry.trim()).map_err(|reason| {
                CorsError::InvalidSubdomainPattern { entry: entry.to_owned(), reason }
            })?;
            list.subdomains
                .entry((pattern.scheme, pattern.port))
                .or_default()
                .insert(pattern.domain.into());
        }
        Ok(list)
    }

    /// Whether `origin` (a request's `Origin` value) is allowed: after normalisation, it is one
    /// of the exact origins or a subdomain matching a pattern.
    pub fn allows(&self, origin: &str) -> bool {
        parse_origin(origin).is_ok_and(|parsed| self.find(&parsed).is_some())
    }

    /// The exact origins in normal form, in the order configured, without duplicates.
    pub fn origins(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.listed.iter().map(|o| &**o)
    }

    /// Whether nothing at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.subdomains.is_empty()
    }

    /// Finds a parsed origin: one hash lookup for the exact origins, one per host label for the
    /// patterns.
    pub(crate) fn find(&self, origin: &ParsedOrigin<'_>) -> Option<AllowlistMatch> {
        if let Some(&index) = self.exact.get(&*origin.serialized) {
            let as_listed = matches!(origin.serialized, Cow::Borrowed(_));
            return Some(AllowlistMatch::Exact { index, as_listed });
        }
        if origin.is_ip {
            return None;
        }
        let domains = self.subdomains.get(&(origin.scheme, origin.port))?;
        let host: &str = &origin.host;
        // Every proper suffix that starts after a `.`: `a.b.example.com` tries `b.example.com`,
        // `example.com` and `com`; the host itself is never tried.
        host.match_indices('.')
            .any(|(dot, _)| domains.contains(&host[dot + 1..]))
            .then_some(AllowlistMatch::Subdomain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(s: &str) -> Result<String, NotAnOrigin> {
        parse_origin(s).map(|p| p.serialized.into_owned())
    }

    #[test]
    fn normal_form_is_borrowed_as_is() {
        for s in [
            "https://app.example.com",
            "http://localhost:3000",
            "https://a.com:8443",
            "http://127.0.0.1:8080",
            "https://[::1]",
            "https://[2001:db8::1]:8443",
            "https://xn--bcher-kva.example",
            "http://my_host.internal",
        ] {
            let parsed = parse_origin(s).unwrap();
            assert!(matches!(parsed.serialized, Cow::Borrowed(_)), "{s}");
            assert_eq!(parsed.serialized, s);
        }
    }

    #[test]
    fn scheme_and_host_are_lowercased_and_default_ports_dropped() {
        assert_eq!(normal("HTTPS://App.Example.COM").unwrap(), "https://app.example.com");
        assert_eq!(normal("https://a.com:443").unwrap(), "https://a.com");
        assert_eq!(normal("http://a.com:80").unwrap(), "http://a.com");
        assert_eq!(normal("https://a.com:0443").unwrap(), "https://a.com");
        assert_eq!(normal("http://a.com:443").unwrap(), "http://a.com:443");
        assert_eq!(normal("https://a.com:80").unwrap(), "https://a.com:80");
        assert_eq!(normal("https://a.com:08080").unwrap(), "https://a.com:8080");
        assert_eq!(normal("https://[0:0::1]:443").unwrap(), "https://[::1]");
        assert_eq!(
            normal("https://[2001:DB8:0:0:1:0:0:1]").unwrap(),
            "https://[2001:db8::1:0:0:1]"
        );
        assert_eq!(normal("http://[::ffff:1.2.3.4]").unwrap(), "http://[::ffff:102:304]");
    }

    #[test]
    fn what_is_not_an_origin_says_why() {
        use NotAnOrigin::*;
        let cases = [
            ("", Empty),
            ("app.example.com", MissingScheme),
            ("localhost:3000", MissingScheme),
            ("//a.com", MissingScheme),
            ("https:/a.com", MissingScheme),
            ("ftp://a.com", UnsupportedScheme),
            ("file:///etc/passwd", UnsupportedScheme),
            ("chrome-extension://abc", UnsupportedScheme),
            ("https://a.com/", TrailingSlash),
            ("https://a.com/app", HasPath),
            ("https://a.com\\x", HasPath),
            ("https://a.com?x=1", HasQuery),
            ("https://a.com#top", HasFragment),
            ("https://user@a.com", HasUserinfo),
            ("https://user:pw@a.com", HasUserinfo),
            ("https://", EmptyHost),
            ("https://:443", EmptyHost),
            ("https://a .com", InvalidHost),
            ("https://a..com", InvalidHost),
            ("https://a.com.", InvalidHost),
            ("https://.a.com", InvalidHost),
            ("https://a.123", InvalidHost),
            ("https://1.2.3.04", InvalidHost),
            ("https://0x7f.0.0.1", InvalidHost),
            ("https://[::1", InvalidHost),
            ("https://[::1]x", InvalidHost),
            ("https://[nope]", InvalidHost),
            ("https://bücher.example", NonAsciiHost),
            ("https://*.a.com", Wildcard),
            ("https://a.com:", InvalidPort),
            ("https://a.com:+443", InvalidPort),
            ("https://a.com:65536", InvalidPort),
            ("https://a.com:1:2", InvalidPort),
        ];
        for (input, reason) in cases {
            assert_eq!(normal(input), Err(reason), "{input:?}");
        }
    }

    #[test]
    fn subdomain_patterns_parse_strictly() {
        use NotASubdomainPattern::*;
        let ok = parse_subdomain_pattern("HTTPS://*.Example.com:443").unwrap();
        assert_eq!(
            ok,
            SubdomainPattern { scheme: Scheme::Https, port: None, domain: "example.com".into() }
        );
        for (input, reason) in [
            ("https://example.com", MissingWildcard),
            ("https://*example.com", MissingWildcard),
            ("https://a.*.example.com", MissingWildcard),
            ("https://*.*.example.com", MissingWildcard),
            ("*.example.com", Base(NotAnOrigin::MissingScheme)),
            ("https://*.example.com/", Base(NotAnOrigin::TrailingSlash)),
            ("ws://*.example.com", Base(NotAnOrigin::UnsupportedScheme)),
            ("https://*.", Base(NotAnOrigin::EmptyHost)),
            ("https://*.com", TooBroad),
            ("https://*.10.0.0.1", IpAddress),
            ("https://*.[::1]", IpAddress),
        ] {
            assert_eq!(parse_subdomain_pattern(input), Err(reason), "{input:?}");
        }
    }

    #[test]
    fn subdomains_match_on_labels_only() {
        let list = OriginAllowlist::new(
            std::iter::empty::<&str>(),
            ["https://*.example.com", "http://*.dev.test:8080"],
        )
        .unwrap();
        for yes in [
            "https://a.example.com",
            "https://a.b.example.com",
            "https://A.EXAMPLE.COM",
            "https://a.example.com:443",
            "http://x.dev.test:8080",
        ] {
            assert!(list.allows(yes), "{yes}");
        }
        for no in [
            "https://example.com",
            "https://evil-example.com",
            "https://a.evil-example.com",
            "https://example.com.evil.com",
            "https://a.example.com.evil.com",
            "https://aexample.com",
            "http://a.example.com",
            "https://a.example.com:8443",
            "https://.example.com",
            "https://a.example.com/",
            "https://a.example.com.",
            "http://x.dev.test",
            "http://dev.test:8080",
            "https://x.dev.test:8080",
            "null",
            "",
        ] {
            assert!(!list.allows(no), "{no}");
        }
    }

    #[test]
    fn exact_origins_are_deduplicated_and_reported_in_normal_form() {
        let list = OriginAllowlist::new(
            ["https://a.com", "HTTPS://A.com:443", " http://b.com:8080 "],
            std::iter::empty::<&str>(),
        )
        .unwrap();
        assert_eq!(list.origins().collect::<Vec<_>>(), ["https://a.com", "http://b.com:8080"]);
        let parsed = parse_origin("https://a.com").unwrap();
        assert_eq!(list.find(&parsed), Some(AllowlistMatch::Exact { index: 0, as_listed: true }));
        let parsed = parse_origin("https://A.com").unwrap();
        assert_eq!(list.find(&parsed), Some(AllowlistMatch::Exact { index: 0, as_listed: false }));
        assert!(!list.allows("http://b.com"));
        assert!(!list.is_empty());
        assert!(OriginAllowlist::default().is_empty());
    }

    #[test]
    fn the_allowlist_refuses_null_and_non_origins_naming_the_entry() {
        assert_eq!(
            OriginAllowlist::new(["https://a.com", "NULL"], std::iter::empty::<&str>())
                .unwrap_err(),
            CorsError::NullOriginNotEnabled
        );
        assert_eq!(
            OriginAllowlist::new(["https://a.com", "a.com"], std::iter::empty::<&str>())
                .unwrap_err(),
            CorsError::InvalidOrigin { entry: "a.com".into(), reason: NotAnOrigin::MissingScheme }
        );
        assert_eq!(
            OriginAllowlist::new(std::iter::empty::<&str>(), ["https://*.com"]).unwrap_err(),
            CorsError::InvalidSubdomainPattern {
                entry: "https://*.com".into(),
                reason: NotASubdomainPattern::TooBroad
            }
        );
    }
}
