//! Whom a limit counts: [`Key`], and what to do with a request that has no key, [`MissingKey`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use guard_core::{GuardRequest, TrustedProxies};
use http::HeaderName;
use ipnet::Ipv6Net;
use serde::{Deserialize, Deserializer};

type ExtensionFn = dyn Fn(&http::Extensions) -> Option<String> + Send + Sync;
type RequestFn = dyn for<'a, 'r> Fn(&'a GuardRequest<'r>) -> Option<String> + Send + Sync;

/// What a limiter counts requests by.
///
/// - [`Key::client_ip`] (the default): the client's address as the limiter's trusted proxies
///   resolve it ([`TrustedProxies::client_ip`]); IPv6 addresses are grouped by their /64 prefix
///   (a single host usually holds a whole /64), or another prefix with
///   [`Key::client_ip_grouped`].
/// - [`Key::from_extension`]: a value an earlier guard left in the request's extensions, such
///   as the subject of verified token claims.
/// - [`Key::header`]: a request header, such as an API key. Its value is stored only as a
///   SHA-256 digest, so secrets never reach Redis in clear.
/// - [`Key::from_fn`]: anything computed from the request head.
///
/// ```
/// use guard_ratelimit::Key;
///
/// /// What an authentication guard leaves for later guards.
/// #[derive(Clone)]
/// struct Claims { sub: String }
///
/// let per_user = Key::from_extension(|c: &Claims| c.sub.clone());
/// let per_api_key = Key::header(http::HeaderName::from_static("x-api-key"));
/// let per_network = Key::client_ip_grouped(48);
/// let per_path = Key::from_fn(|req| Some(req.path().to_owned()));
///
/// // From configuration:
/// let key: Key = serde_json::from_str(r#"{"client-ip": {"ipv6-prefix": 56}}"#)?;
/// let key: Key = serde_json::from_str(r#"{"header": "x-api-key"}"#)?;
/// let key: Key = serde_json::from_str(r#""client-ip""#)?;
/// # let _ = (per_user, per_api_key, per_network, per_path, key);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct Key(KeyKind);

#[derive(Clone)]
enum KeyKind {
    ClientIp { ipv6_prefix: u8 },
    Header(HeaderName),
    Extension(Arc<ExtensionFn>),
    Request(Arc<RequestFn>),
}

impl Key {
    /// The client IP behind the limiter's trusted proxies, IPv6 grouped by /64.
    pub fn client_ip() -> Self {
        Self::client_ip_grouped(64)
    }

    /// The client IP, IPv6 addresses grouped by their first `ipv6_prefix` bits (0 to 128;
    /// `build` refuses more). IPv4 addresses are always counted one by one.
    pub fn client_ip_grouped(ipv6_prefix: u8) -> Self {
        Self(KeyKind::ClientIp { ipv6_prefix })
    }

    /// The first value of request header `name`; a request without it has no key.
    pub fn header(name: HeaderName) -> Self {
        Self(KeyKind::Header(name))
    }

    /// A value read from a request extension of type `T` that an earlier guard left, such as
    /// the subject of verified claims; a request without such an extension has no key. The
    /// closure may return a `String` or an `Option<String>`.
    pub fn from_extension<T, F, R>(read: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> R + Send + Sync + 'static,
        R: Into<Option<String>>,
    {
        Self(KeyKind::Extension(Arc::new(move |ext: &http::Extensions| {
            ext.get::<T>().and_then(|t| read(t).into())
        })))
    }

    /// A key computed from the request by `key`; `None` means the request has no key.
    pub fn from_fn<F, R>(key: F) -> Self
    where
        F: for<'a, 'r> Fn(&'a GuardRequest<'r>) -> R + Send + Sync + 'static,
        R: Into<Option<String>>,
    {
        Self(KeyKind::Request(Arc::new(move |req: &GuardRequest<'_>| key(req).into())))
    }

    pub(crate) fn ipv6_prefix(&self) -> Option<u8> {
        match self.0 {
            KeyKind::ClientIp { ipv6_prefix } => Some(ipv6_prefix),
            _ => None,
        }
    }

    /// The key of `req`, if it has one.
    pub(crate) fn extract(
        &self,
        req: &GuardRequest<'_>,
        proxies: &TrustedProxies,
    ) -> Option<String> {
        let key = match &self.0 {
            KeyKind::ClientIp { ipv6_prefix } => {
                proxies.client_ip(req.head()).map(|ip| ip_key(ip, *ipv6_prefix))
            }
            KeyKind::Header(name) => req.header(name).filter(|v| !v.is_empty()).map(digest),
            KeyKind::Extension(read) => read(req.extensions()),
            KeyKind::Request(key) => key(req),
        };
        key.filter(|k| !k.is_empty())
    }
}

/// An IPv4 address as is; an IPv6 address as its network of `prefix` bits.
pub(crate) fn ip_key(ip: IpAddr, prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match Ipv6Net::new(v6, prefix.min(128)) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
    }
}

/// A header value as a digest: bounded, and never the secret itself.
fn digest(value: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(value);
    let mut out = String::with_capacity(34);
    out.push_str("h:");
    for b in &hash[..16] {
        use fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl Default for Key {
    fn default() -> Self {
        Self::client_ip()
    }
}

impl From<HeaderName> for Key {
    fn from(name: HeaderName) -> Self {
        Self::header(name)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            KeyKind::ClientIp { ipv6_prefix } => {
                f.debug_struct("Key::ClientIp").field("ipv6_prefix", ipv6_prefix).finish()
            }
            KeyKind::Header(name) => f.debug_tuple("Key::Header").field(name).finish(),
            KeyKind::Extension(_) => f.write_str("Key::Extension(..)"),
            KeyKind::Request(_) => f.write_str("Key::Fn(..)"),
        }
    }
}

/// The configuration form of a key: `"client-ip"`, `{"client-ip": {"ipv6-prefix": 56}}` or
/// `{"header": "x-api-key"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum KeyRepr {
    Name(KeyName),
    Tagged(KeyConfig),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum KeyName {
    ClientIp,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum KeyConfig {
    ClientIp {
        #[serde(default = "default_ipv6_prefix", rename = "ipv6-prefix")]
        ipv6_prefix: u8,
    },
    Header(String),
}

fn default_ipv6_prefix() -> u8 {
    64
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match KeyRepr::deserialize(d)? {
            KeyRepr::Name(KeyName::ClientIp) => Ok(Key::client_ip()),
            KeyRepr::Tagged(KeyConfig::ClientIp { ipv6_prefix }) => {
                Ok(Key::client_ip_grouped(ipv6_prefix))
            }
            KeyRepr::Tagged(KeyConfig::Header(name)) => HeaderName::try_from(name.as_str())
                .map(Key::header)
                .map_err(|_| serde::de::Error::custom(format!("`{name}` is not a header name"))),
        }
    }
}

/// What a limiter does with a request that has no key (no subject, no such header, no peer
/// address).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingKey {
    /// Let it through unlimited, without rate-limit headers (the default). Right when an earlier
    /// guard already refuses such requests (an authentication guard in front of a per-user
    /// limit), or when the key is optional by design.
    #[default]
    Skip,
    /// Refuse it with a 403 problem: the route may only be used by requests that can be counted.
    Refuse,
}

#[cfg(test)]
mod tests {
    use super::*;
    use guard_core::HttpRequestHead;
    use http::Request;

    fn key_of(
        key: &Key,
        proxies: &TrustedProxies,
        req: Request<()>,
        peer: Option<&str>,
    ) -> Option<String> {
        let (parts, ()) = req.into_parts();
        let head = HttpRequestHead::new(&parts, peer.map(|p| p.parse().unwrap()));
        let mut greq = GuardRequest::new(&head);
        greq.extensions_mut().insert(Sub("alice".into()));
        key.extract(&greq, proxies)
    }

    #[derive(Clone)]
    struct Sub(String);

    #[test]
    fn client_ips_resolve_behind_trusted_proxies_and_group_ipv6() {
        let none = TrustedProxies::none();
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let req = || Request::get("/").header("x-forwarded-for", "203.0.113.9").body(()).unwrap();
        let k = Key::client_ip();
        assert_eq!(key_of(&k, &none, req(), Some("10.0.0.1:1")).as_deref(), Some("10.0.0.1"));
        assert_eq!(key_of(&k, &proxies, req(), Some("10.0.0.1:1")).as_deref(), Some("203.0.113.9"));
        let v6 = Some("[2001:db8:1:2:3:4:5:6]:1");
        assert_eq!(key_of(&k, &none, req(), v6).as_deref(), Some("2001:db8:1:2::/64"));
        let k48 = Key::client_ip_grouped(48);
        assert_eq!(key_of(&k48, &none, req(), v6).as_deref(), Some("2001:db8:1::/48"));
        assert_eq!(key_of(&k, &none, req(), None), None, "no peer address, no key");
    }

    #[test]
    fn headers_are_digested_and_extensions_read() {
        let none = TrustedProxies::none();
        let k = Key::header(HeaderName::from_static("x-api-key"));
        let with = |v: &str| Request::get("/").header("x-api-key", v).body(()).unwrap();
        let a = key_of(&k, &none, with("secret-1"), None).unwrap();
        assert!(a.starts_with("h:") && !a.contains("secret") && a.len() == 34, "{a}");
        assert_ne!(Some(a), key_of(&k, &none, with("secret-2"), None));
        assert_eq!(key_of(&k, &none, Request::get("/").body(()).unwrap(), None), None);
        assert_eq!(key_of(&k, &none, with(""), None), None);

        let sub = Key::from_extension(|s: &Sub| s.0.clone());
        assert_eq!(key_of(&sub, &none, with("x"), None).as_deref(), Some("alice"));
        let other = Key::from_extension(|s: &String| Some(s.clone()));
        assert_eq!(key_of(&other, &none, with("x"), None), None);
        let by_path = Key::from_fn(|r| Some(r.path().to_owned()));
        let req = Request::get("/a/b").body(()).unwrap();
        assert_eq!(key_of(&by_path, &none, req, None).as_deref(), Some("/a/b"));
    }

    #[test]
    fn keys_deserialize_from_configuration() {
        let k: Key = serde_json::from_str(r#""client-ip""#).unwrap();
        assert_eq!(k.ipv6_prefix(), Some(64));
        let k: Key = serde_json::from_str(r#"{"client-ip": {"ipv6-prefix": 56}}"#).unwrap();
        assert_eq!(k.ipv6_prefix(), Some(56));
        let k: Key = serde_json::from_str(r#"{"client-ip": {}}"#).unwrap();
        assert_eq!(k.ipv6_prefix(), Some(64));
        let k: Key = serde_json::from_str(r#"{"header": "X-Api-Key"}"#).unwrap();
        assert_eq!(format!("{k:?}"), r#"Key::Header("x-api-key")"#);
        assert!(serde_json::from_str::<Key>(r#"{"header": "bad header"}"#).is_err());
        assert!(serde_json::from_str::<Key>(r#""subject""#).is_err());
        let m: MissingKey = serde_json::from_str(r#""refuse""#).unwrap();
        assert_eq!(m, MissingKey::Refuse);
    }
}
