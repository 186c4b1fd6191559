#![no_main]
//! libFuzzer driver of `guard_fuzz_targets::policies`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard_fuzz_targets::policies(data));
