//! The keys stores are written under, for every store alike (memory, Redis, a Redis Cluster):
//! bounded in length, unable to break out of their Redis hash tag, and unable to share another
//! key's state, whatever a client put in them.
//!
//! ```
//! use guard_core::keys::{hash_tagged, key_slot};
//!
//! let key = hash_tagged("rl:auth", "203.0.113.9");
//! assert_eq!(key, "rl:auth:{203.0.113.9}");
//! // Every key of one decision shares the tag, hence one Cluster slot.
//! assert_eq!(key_slot(format!("{key}:burst").as_bytes()), key_slot(format!("{key}:daily").as_bytes()));
//! ```

/// The Cluster hash slot of `key` (CRC16/XMODEM of its hash tag, modulo 16384), as
/// `CLUSTER KEYSLOT` computes it.
///
/// ```
/// use guard_core::keys::key_slot;
/// assert_eq!(key_slot(b"foo"), 12182);
/// assert_eq!(key_slot(b"rl:{user-1}:auth"), key_slot(b"user-1"));
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|b| *b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter().position(|b| *b == b'}').filter(|len| *len > 0).map(|len| &rest[..len])
        })
        .unwrap_or(key);
    crc16_xmodem(tagged) % 16384
}

fn crc16_xmodem(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// A Redis hash tag (`{…}`) for `key`, so that every key of one decision lands on one Cluster
/// slot; long or binary keys are hashed to a bounded length first.
///
/// ```
/// assert_eq!(guard_core::keys::hash_tagged("rl", "1.2.3.4"), "rl:{1.2.3.4}");
/// let long = guard_core::keys::hash_tagged("rl", &"x".repeat(500));
/// assert!(long.len() < 80 && long.starts_with("rl:{#"));
/// ```
pub fn hash_tagged(prefix: &str, key: &str) -> String {
    format!("{prefix}:{{{}}}", bounded_key(key))
}

/// `key` as it is when short (1 to 64 bytes), printable ASCII without braces (so it can neither break out of a
/// hash tag nor make keys unbounded), else `#` and the first 128 bits of its SHA-256 in hex:
/// collision-resistant, so nobody can craft a key that shares another client's state.
///
/// ```
/// use guard_core::keys::bounded_key;
/// assert_eq!(bounded_key("user-1"), "user-1");
/// assert_eq!(bounded_key(&"x".repeat(65)).len(), 33);
/// assert!(bounded_key("a{b}").starts_with('#'));
/// ```
pub fn bounded_key(key: &str) -> std::borrow::Cow<'_, str> {
    const MAX_PLAIN: usize = 64;
    // An empty key would make an empty tag `{}`, which Redis ignores (the whole key is then
    // hashed, and a decision's keys land on different Cluster slots): hashed like odd keys.
    // A plain key may not start with `#` either: it could then be spelled like the hashed form
    // of another key and share that key's state.
    let plain = (1..=MAX_PLAIN).contains(&key.len())
        && !key.starts_with('#')
        && key.bytes().all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}');
    if plain {
        std::borrow::Cow::Borrowed(key)
    } else {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        std::borrow::Cow::Owned(format!("#{hex}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slots_match_what_redis_computes() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"123456789"), 12739);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // An empty tag is no tag: the whole key is hashed.
        assert_eq!(key_slot(b"foo{}{bar}"), 8363);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }

    #[test]
    fn hash_tags_are_bounded_and_never_nest() {
        assert_eq!(hash_tagged("p", "user-1"), "p:{user-1}");
        let braces = hash_tagged("p", "a}b{c");
        assert_eq!(braces.matches('{').count(), 1);
        assert_eq!(hash_tagged("p", "a}b{c"), braces, "stable");
        assert_ne!(hash_tagged("p", &"x".repeat(65)), hash_tagged("p", &"x".repeat(66)));
        // A key spelled like the hashed form of another is hashed itself: no shared state.
        let long = "x".repeat(65);
        let hashed = bounded_key(&long).into_owned();
        assert_ne!(bounded_key(&hashed), hashed.as_str());
        assert!(bounded_key("#1").starts_with('#') && bounded_key("#1").len() == 33);
        // Found by fuzzing: an empty key made an empty tag, which Redis ignores.
        let empty = hash_tagged("p", "");
        assert!(empty.starts_with("p:{#") && empty.len() == "p:{#}".len() + 32, "{empty}");
        assert_eq!(
            key_slot(format!("{empty}:a").as_bytes()),
            key_slot(format!("{empty}:b").as_bytes())
        );
    }
}
