//! Which address a request really came from, when proxies stand in between.
//!
//! The peer address is the client unless the peer is a trusted proxy. Only then is the forwarding
//! header believed, and it is walked from the right (the end that trusted proxies append to),
//! skipping trusted hops: the first untrusted address is the client. Whatever a client writes on
//! the left of the header can therefore never choose its own address.
//!
//! ```
//! use guard_core::{HttpRequestHead, TrustedProxies};
//! use http::Request;
//!
//! let proxies = TrustedProxies::parse("10.0.0.0/8, fd00::/8").unwrap();
//! let (parts, ()) = Request::get("/")
//!     .header("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3")
//!     .body(()).unwrap().into_parts();
//! let head = HttpRequestHead::new(&parts, Some("10.0.0.1:443".parse().unwrap()));
//! assert_eq!(proxies.client_ip(&head), Some("203.0.113.7".parse().unwrap()));
//! ```

use std::net::{IpAddr, SocketAddr};

use http::HeaderName;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::request::RequestHead;

/// Which forwarding header the trusted proxies write. Only that one is read: believing both would
/// let a client forge the one the proxies do not overwrite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the de-facto standard).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// An invalid trusted-proxy list.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustedProxiesError {
    /// An entry is neither an IP address nor a CIDR network.
    #[error("`{0}` is not an IP address or CIDR network (e.g. 10.0.0.0/8)")]
    InvalidNetwork(String),
}

/// The networks whose forwarding headers are believed, compiled once at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TrustedProxiesConfig", into = "TrustedProxiesConfig")]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

/// The serialized form: `{ "networks": ["10.0.0.0/8"], "header": "x-forwarded-for" }`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustedProxiesConfig {
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default)]
    header: ForwardedHeader,
}

impl TryFrom<TrustedProxiesConfig> for TrustedProxies {
    type Error = TrustedProxiesError;

    fn try_from(config: TrustedProxiesConfig) -> Result<Self, Self::Error> {
        let networks =
            config.networks.iter().map(|n| parse_network(n)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { networks, header: config.header })
    }
}

impl From<TrustedProxies> for TrustedProxiesConfig {
    fn from(p: TrustedProxies) -> Self {
        Self { networks: p.networks.iter().map(ToString::to_string).collect(), header: p.header }
    }
}

fn parse_network(s: &str) -> Result<IpNet, TrustedProxiesError> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| TrustedProxiesError::InvalidNetwork(s.to_owned()))
}

impl TrustedProxies {
    /// Trust nobody: the peer address is always the client. The safe default.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts `networks`, reading `X-Forwarded-For`.
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            networks: networks.into_iter().map(|n| n.trunc()).collect(),
            header: ForwardedHeader::default(),
        }
    }

    /// Parses a comma-separated list of CIDRs or addresses (`TRUSTED_PROXIES`); empty means none.
    pub fn parse(list: &str) -> Result<Self, TrustedProxiesError> {
        let networks = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(parse_network)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { networks, header: ForwardedHeader::default() })
    }

    /// Reads `header` instead of `X-Forwarded-For`.
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The trusted networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.networks
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The client's address, or `None` when the server does not know the peer address.
    pub fn client_ip(&self, req: &dyn RequestHead) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let mut client = peer;
        let name = match self.header {
            ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ForwardedHeader::Forwarded => http::header::FORWARDED,
        };
        // Several header lines form one list, in order: collect them, then walk from the right.
        let lines: Vec<&[u8]> = req.header_all(&name).collect();
        for line in lines.iter().rev() {
            let Ok(line) = std::str::from_utf8(line) else { return Some(client) };
            for element in line.rsplit(',') {
                let hop = match self.header {
                    ForwardedHeader::XForwardedFor => parse_hop(element),
                    ForwardedHeader::Forwarded => forwarded_for(element).and_then(parse_hop),
                };
                // A hop we cannot read was not written by a trusted proxy: stop at the last one
                // we could, rather than believe anything further left.
                let Some(hop) = hop else { return Some(client) };
                client = hop;
                if !self.is_trusted(hop) {
                    return Some(hop);
                }
            }
        }
        Some(client)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, from dual-stack sockets) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`, optionally quoted.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = s.parse::<SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    let inner = s.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

/// The `for=` parameter of one `Forwarded` element (RFC 7239 §4).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then_some(value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::HttpRequestHead;
    use http::Request;
    use proptest::prelude::*;

    fn resolve(proxies: &TrustedProxies, peer: &str, headers: &[(&str, &str)]) -> Option<IpAddr> {
        let mut builder = Request::get("/");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        let head = HttpRequestHead::new(&parts, Some(peer.parse().unwrap()));
        proxies.client_ip(&head)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    /// `(trusted networks, peer, X-Forwarded-For lines, the client)`.
    const X_FORWARDED_FOR: &[(&str, &str, &[&str], &str)] = &[
        // An untrusted peer is the client, whatever the header says; so is every peer when no
        // proxy is trusted.
        ("10.0.0.0/8", "203.0.113.9:1", &["1.2.3.4"], "203.0.113.9"),
        ("", "10.0.0.1:1", &["1.2.3.4"], "10.0.0.1"),
        // The walk goes from the right, skipping trusted hops.
        (
            "10.0.0.0/8,192.168.0.0/16",
            "10.0.0.1:1",
            &["9.9.9.9, 198.51.100.4, 192.168.1.1, 10.0.0.7"],
            "198.51.100.4",
        ),
        // Several header lines form one list.
        ("10.0.0.0/8", "10.0.0.1:1", &["198.51.100.4", "10.0.0.9"], "198.51.100.4"),
        // An all-trusted chain yields its leftmost hop; without the header, the peer.
        ("10.0.0.0/8", "10.0.0.1:1", &["10.0.0.5, 10.0.0.6"], "10.0.0.5"),
        ("10.0.0.0/8", "10.0.0.1:1", &[], "10.0.0.1"),
        // Garbage stops the walk at the last readable hop.
        ("10.0.0.0/8", "10.0.0.1:1", &["1.1.1.1, nonsense, 10.0.0.2"], "10.0.0.2"),
        // Ports, brackets and IPv4-mapped addresses are understood.
        ("10.0.0.0/8, ::1", "10.0.0.1:1", &["198.51.100.4:5555"], "198.51.100.4"),
        ("10.0.0.0/8, ::1", "[::1]:1", &["[2001:db8::1]:80"], "2001:db8::1"),
        ("10.0.0.0/8, ::1", "[::ffff:10.0.0.1]:1", &["198.51.100.4"], "198.51.100.4"),
    ];

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        for (trusted, peer, lines, client) in X_FORWARDED_FOR {
            let p = TrustedProxies::parse(trusted).unwrap();
            let headers: Vec<_> = lines.iter().map(|line| ("x-forwarded-for", *line)).collect();
            assert_eq!(resolve(&p, peer, &headers), ip(client), "{trusted} {peer} {lines:?}");
        }
    }

    #[test]
    fn forwarded_header_is_read_only_when_chosen() {
        let xff = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let fwd = xff.clone().with_header(ForwardedHeader::Forwarded);
        let h = [
            (
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.3"#,
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ];
        assert_eq!(resolve(&fwd, "10.0.0.1:1", &h), ip("2001:db8:cafe::17"));
        assert_eq!(resolve(&xff, "10.0.0.1:1", &h), ip("7.7.7.7"));
        assert_eq!(resolve(&fwd, "10.0.0.1:1", &[("forwarded", "for=unknown")]), ip("10.0.0.1"));
    }

    #[test]
    fn bad_lists_are_typed_errors_and_config_deserializes() {
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/8, example.com"),
            Err(TrustedProxiesError::InvalidNetwork("example.com".into()))
        );
        assert_eq!(TrustedProxies::parse(" ").unwrap(), TrustedProxies::none());
        let p: TrustedProxies =
            serde_json::from_str(r#"{"networks": ["10.0.0.0/8", "::1"], "header": "forwarded"}"#)
                .unwrap();
        assert!(p.is_trusted("10.9.9.9".parse().unwrap()));
        assert!(
            serde_json::from_str::<TrustedProxies>(r#"{"networks": ["10.0.0.0/33"]}"#).is_err()
        );
    }

    proptest! {
        /// Whatever a client puts in the header, an untrusted peer is never anything but itself,
        /// and behind one trusted proxy the client gets the address the proxy appended.
        #[test]
        fn clients_cannot_choose_their_address(spoofed in "[ -~]{0,80}", a in any::<[u8; 4]>()) {
            let client = std::net::Ipv4Addr::from(a);
            prop_assume!(!TrustedProxies::parse("10.0.0.0/8").unwrap().is_trusted(client.into()));
            let p = TrustedProxies::parse("10.0.0.0/8").unwrap();
            let direct = resolve(&p, &format!("{client}:1"), &[("x-forwarded-for", &spoofed)]);
            prop_assert_eq!(direct, Some(IpAddr::V4(client)));
            let forwarded = format!("{spoofed}, {client}");
            if let Ok(v) = http::HeaderValue::from_str(&forwarded) {
                let via_proxy = resolve(&p, "10.0.0.1:1", &[("x-forwarded-for", v.to_str().unwrap())]);
                prop_assert_eq!(via_proxy, Some(IpAddr::V4(client)));
            }
        }
    }
}
