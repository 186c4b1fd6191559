#![no_main]
//! libFuzzer driver of `guard_fuzz_targets::cors_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard_fuzz_targets::cors_request(data));
