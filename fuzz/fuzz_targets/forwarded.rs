#![no_main]
//! libFuzzer driver of `guard_fuzz_targets::forwarded`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard_fuzz_targets::forwarded(data));
