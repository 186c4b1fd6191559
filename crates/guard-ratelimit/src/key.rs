//! Whom a limit counts: [`Key`], and what to do with a request that has no key, [`MissingKey`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use guard_core::{GuardRequest, TrustedProxies};
use http::HeaderName;
use ipnet::Ipv6Net;
use serde::{Deserialize, Deserializer};

type ExtensionFn = dyn Fn(&http::Extensions) -> Option<String> + Send + Sync;

/// Where a key comes from, for the answer and the log line when a request has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// The server should always find it (a peer address, a subject, an extension): a request
    /// without one means the server is wired wrongly.
    Server,
    /// The client should send it (a header, or whatever a `from_fn` reads).
    Client,
}
type RequestFn = dyn for<'a, 'r> Fn(&'a GuardRequest<'r>) -> Option<String> + Send + Sync;

/// What a limiter counts requests by.
///
/// - [`Key::client_ip`] (the default): the client's address as the limiter's trusted proxies
///   resolve it ([`TrustedProxies::client_ip`]); IPv6 addresses are grouped by their /64 prefix
///   (a single host usually holds a whole /64), or another prefix with
///   [`Key::client_ip_grouped`].
/// - [`Key::subject`]: the authenticated subject an authentication guard in front left
///   ([`guard_core::Subject`]; `guard_jwt::Jwt` leaves the token's `sub`): per user.
/// - [`Key::from_extension`]: any other value an earlier guard left in the request's
///   extensions.
/// - [`Key::header`]: a request header, such as an API key. Its value is stored only as a
///   SHA-256 digest, so secrets never reach Redis in clear.
/// - [`Key::from_fn`]: anything computed from the request head.
///
/// ```
/// use guard_ratelimit::Key;
///
/// /// What a guard of your own leaves for later guards.
/// #[derive(Clone)]
/// struct Tenant { id: String }
///
/// let per_user = Key::subject();
/// let per_tenant = Key::from_extension(|t: &Tenant| t.id.clone());
/// let per_api_key = Key::header(http::HeaderName::from_static("x-api-key"));
/// let per_network = Key::client_ip_grouped(48);
/// let per_path = Key::from_fn(|req| Some(req.path().to_owned()));
///
/// // From configuration:
/// let key: Key = serde_json::from_str(r#"{"client-ip": {"ipv6-prefix": 56}}"#)?;
/// let key: Key = serde_json::from_str(r#"{"header": "x-api-key"}"#)?;
/// let key: Key = serde_json::from_str(r#""client-ip""#)?;
/// let key: Key = serde_json::from_str(r#""subject""#)?;
/// # let _ = (per_user, per_tenant, per_api_key, per_network, per_path, key);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct Key(KeyKind);

#[derive(Clone)]
enum KeyKind {
    ClientIp {
        ipv6_prefix: u8,
    },
    Subject,
    Header(HeaderName),
    /// With the extension type's name, for the log line when it is missing.
    Extension(Arc<ExtensionFn>, &'static str),
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

    /// The authenticated subject ([`guard_core::Subject`]) that an authentication guard in front
    /// of the limiter left, such as `guard_jwt::Jwt` (the token's `sub`): one limit per user,
    /// whatever the claims type. A request without one means the limiter is not behind an
    /// authentication guard: see [`MissingKey`].
    pub fn subject() -> Self {
        Self(KeyKind::Subject)
    }

    /// The first value of request header `name`; a request without it has no key.
    pub fn header(name: HeaderName) -> Self {
        Self(KeyKind::Header(name))
    }

    /// A value read from a request extension of type `T` that an earlier guard left; a request
    /// without such an extension has no key (and the log line then names `T`, see
    /// [`MissingKey`]). The closure may return a `String` or an `Option<String>`. For the
    /// authenticated user, prefer [`Key::subject`]: it cannot name the wrong type.
    pub fn from_extension<T, F, R>(read: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> R + Send + Sync + 'static,
        R: Into<Option<String>>,
    {
        Self(KeyKind::Extension(
            Arc::new(move |ext: &http::Extensions| ext.get::<T>().and_then(|t| read(t).into())),
            std::any::type_name::<T>(),
        ))
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

    /// Where this key comes from.
    pub(crate) fn source(&self) -> KeySource {
        match self.0 {
            KeyKind::ClientIp { .. } | KeyKind::Subject | KeyKind::Extension(..) => {
                KeySource::Server
            }
            KeyKind::Header(_) | KeyKind::Request(_) => KeySource::Client,
        }
    }

    /// Why a request has no key and how to fix it, for the one error line a misconfiguration
    /// gets.
    pub(crate) fn missing_cause(&self) -> String {
        match &self.0 {
            KeyKind::ClientIp { .. } => "the request has no peer address, so its client IP is \
                unknown: serve axum with `into_make_service_with_connect_info::<SocketAddr>()` or \
                `guard_tower::serve` (actix-web always knows it)"
                .to_owned(),
            KeyKind::Subject => "no authenticated subject (`guard_core::Subject`) in the request: \
                put the limiter after an authentication guard such as `guard_jwt::Jwt`, in the \
                same stack (`jwt.then(limiter)`)"
                .to_owned(),
            KeyKind::Extension(_, type_name) => format!(
                "no `{type_name}` in the request extensions: the guard meant to leave it did not \
                 run before the limiter, or leaves another type (`guard_jwt::Jwt` leaves \
                 `VerifiedClaims<C>` and `guard_core::Subject`: `Key::subject()` reads the \
                 latter)"
            ),
            KeyKind::Header(name) => format!("the request has no `{name}` header"),
            KeyKind::Request(_) => "the key function found no key".to_owned(),
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
            KeyKind::Subject => {
                req.extensions().get::<guard_core::Subject>().map(|s| s.as_str().to_owned())
            }
            KeyKind::Header(name) => req.header(name).filter(|v| !v.is_empty()).map(digest),
            KeyKind::Extension(read, _) => read(req.extensions()),
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
            KeyKind::Subject => f.write_str("Key::Subject"),
            KeyKind::Header(name) => f.debug_tuple("Key::Header").field(name).finish(),
            KeyKind::Extension(_, type_name) => write!(f, "Key::Extension({type_name})"),
            KeyKind::Request(_) => f.write_str("Key::Fn(..)"),
        }
    }
}

/// The configuration form of a key: `"client-ip"`, `"subject"`,
/// `{"client-ip": {"ipv6-prefix": 56}}` or `{"header": "x-api-key"}`.
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
    Subject,
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
            KeyRepr::Name(KeyName::Subject) => Ok(Key::subject()),
            KeyRepr::Tagged(KeyConfig::ClientIp { ipv6_prefix }) => {
                Ok(Key::client_ip_grouped(ipv6_prefix))
            }
            KeyRepr::Tagged(KeyConfig::Header(name)) => HeaderName::try_from(name.as_str())
                .map(Key::header)
                .map_err(|_| serde::de::Error::custom(format!("`{name}` is not a header name"))),
        }
    }
}

/// What a limiter does with a request that has no key (no peer address, no subject, no such
/// header).
///
/// A security toolkit must not fail open by accident, so the default refuses. How depends on
/// where the key was to come from:
/// - a key the server should always find ([`Key::client_ip`], [`Key::subject`],
///   [`Key::from_extension`]): its absence means the server is wired wrongly (axum served
///   without the peer address, a per-user limit not behind the authentication guard, an
///   extension type no guard inserts). 500 problem+json, and one `error` log line per limiter
///   naming the cause and the fix;
/// - a key the client should send ([`Key::header`], [`Key::from_fn`]): 403 problem+json.
///
/// Skipping (admitting such requests unlimited) stays available, as an explicit choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingKey {
    /// Refuse it (the default), as described above.
    #[default]
    Refuse,
    /// Let it through unlimited, without rate-limit headers: for a key that is optional by
    /// design.
    Skip,
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

        let subject = Key::subject();
        assert_eq!(key_of(&subject, &none, with("x"), None), None, "no guard left a subject");
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
        let k: Key = serde_json::from_str(r#""subject""#).unwrap();
        assert_eq!(format!("{k:?}"), "Key::Subject");
        assert!(serde_json::from_str::<Key>(r#""user""#).is_err());
        let m: MissingKey = serde_json::from_str(r#""refuse""#).unwrap();
        assert_eq!(m, MissingKey::Refuse);
    }
}
