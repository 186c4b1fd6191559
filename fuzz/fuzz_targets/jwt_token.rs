#![no_main]
//! libFuzzer driver of `guard_fuzz_targets::jwt_token`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard_fuzz_targets::jwt_token(data));
