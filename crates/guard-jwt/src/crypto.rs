//! jsonwebtoken's crypto backend: chosen once, and proven to work before the first request.
//!
//! jsonwebtoken 11 needs exactly one of its features `rust_crypto` / `aws_lc_rs`; with neither or
//! both (Cargo unifies features across the whole dependency graph), its automatically chosen
//! provider panics on the first signature. guard-jwt therefore
//! 1. enables `rust_crypto` only (it builds without cmake or a C toolchain for assembly),
//! 2. installs that provider explicitly as the process default before it verifies anything, so
//!    that another crate switching on `aws_lc_rs` cannot turn verification into a panic, and
//! 3. verifies a known HS256 token once at `build()` (panics caught), so that a process whose
//!    provider was fixed earlier to a broken one fails at start-up with
//!    [`JwtError::CryptoBackend`] rather than on a request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::error::JwtError;

/// A token signed with [`PROBE_SECRET`] (HMAC-SHA256, computed independently of jsonwebtoken).
const PROBE_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
                           eyJzdWIiOiJndWFyZC1qd3QgYmFja2VuZCBwcm9iZSJ9.\
                           -Ah4gNxAbZLLwMQ1j5NwGibchp3aBMnLWwZzO87sVWk";
const PROBE_SECRET: &[u8] = b"guard-jwt: crypto backend self-test key";

/// Installs the `rust_crypto` provider (if no provider is fixed yet) and checks, once per
/// process, that verification and signing work and agree with an independent HMAC.
pub(crate) fn ensure_backend() -> Result<(), JwtError> {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            // Err means a provider is already fixed (ours, the application's, or jsonwebtoken's
            // automatic choice); the probe below tells whether it works.
            let _ = CryptoProvider::install_default(
                &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
            );
            match catch_unwind(AssertUnwindSafe(probe)) {
                Ok(result) => result,
                Err(panic) => Err(panic
                    .downcast_ref::<String>()
                    .map(|s| s.trim().to_owned())
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "the provider panicked".into())),
            }
        })
        .clone()
        .map_err(JwtError::CryptoBackend)
}

fn probe() -> Result<(), String> {
    let (message, signature) = PROBE_TOKEN.rsplit_once('.').ok_or("bad probe token")?;
    let verified = jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        &DecodingKey::from_secret(PROBE_SECRET),
        Algorithm::HS256,
    )
    .map_err(|e| e.to_string())?;
    if !verified {
        return Err("a known-good HS256 token did not verify".into());
    }
    let signed = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(PROBE_SECRET),
        Algorithm::HS256,
    )
    .map_err(|e| e.to_string())?;
    if signed != signature {
        return Err("HS256 signing disagrees with a known signature".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_works_and_the_check_is_idempotent() {
        ensure_backend().unwrap();
        ensure_backend().unwrap();
    }
}
