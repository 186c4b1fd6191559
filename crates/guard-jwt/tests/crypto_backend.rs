//! A crypto backend that panics, as jsonwebtoken's automatic choice does when Cargo feature
//! unification enables both or neither of its backends, makes `build()` fail with
//! `JwtError::CryptoBackend` at start-up: no panic, and no guard that would panic on a request.
//!
//! Alone in its test binary (its own process): the broken provider is installed for the whole
//! process, and guard-jwt checks the backend once per process.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

mod common;

use std::panic::catch_unwind;
use std::time::Duration;

use common::*;
use guard_jwt::{JwtError, JwtPolicy, TokenIssuer};
use jsonwebtoken::crypto::{CryptoProvider, KeyUtils};

const PANIC: &str = "no crypto provider (test double of jsonwebtoken's)";

/// What jsonwebtoken falls back to with both or neither backend: factories that panic.
static BROKEN: CryptoProvider = CryptoProvider {
    signer_factory: |_, _| panic!("{PANIC}"),
    verifier_factory: |_, _| panic!("{PANIC}"),
    key_utils: KeyUtils::new_unimplemented(),
};

#[test]
fn a_provider_that_panics_is_a_typed_error_at_build_not_a_panic() {
    // The application (or another crate) fixed the process's provider before guard-jwt could.
    CryptoProvider::install_default(&BROKEN).unwrap();
    // guard-jwt catches the provider's panic: keep the hook from printing that one alone.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload_as_str() != Some(PANIC) {
            hook(info);
        }
    }));
    let built = catch_unwind(|| JwtPolicy::hs256(SECRET).build::<Claims>())
        .expect("build() panicked instead of returning an error");
    let issuer = catch_unwind(|| TokenIssuer::hs256(SECRET, Duration::from_secs(900)))
        .expect("TokenIssuer::hs256 panicked instead of returning an error");

    let Err(JwtError::CryptoBackend(reason)) = built else {
        panic!("expected JwtError::CryptoBackend, got {built:?}")
    };
    assert_eq!(reason, PANIC);
    let message = JwtError::CryptoBackend(reason).to_string();
    assert!(message.contains("`rust_crypto` / `aws_lc_rs`"), "{message}");
    assert!(matches!(issuer, Err(JwtError::CryptoBackend(_))), "{issuer:?}");
}
