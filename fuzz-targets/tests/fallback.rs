//! The fuzz targets' bodies on the stable toolchain, in every `cargo test`: each seed of the
//! committed corpora, then arbitrary inputs and mutations of the seeds from proptest. libFuzzer
//! (`cargo xtask fuzz`) explores much further; this keeps every target alive and every seed
//! passing in CI.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::path::PathBuf;

use guard_fuzz_targets::TARGETS;
use proptest::prelude::*;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn every_target_has_seeds_and_every_seed_passes() {
    for (name, target) in TARGETS {
        let seeds = seeds(name);
        assert!(seeds.len() >= 3, "{name}: at least three seeds");
        for seed in seeds {
            target(&seed);
        }
    }
}

/// A seed with a few bytes changed, inserted or cut: a poor man's mutator, to reach past the
/// first byte of structured inputs.
fn mutated() -> impl Strategy<Value = (usize, Vec<u8>)> {
    let all: Vec<(usize, Vec<u8>)> = TARGETS
        .iter()
        .enumerate()
        .flat_map(|(i, (name, _))| seeds(name).into_iter().map(move |s| (i, s)))
        .collect();
    (
        proptest::sample::select(all),
        prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|((target, mut seed), edits)| {
            for (at, byte, kind) in edits {
                let at = if seed.is_empty() { 0 } else { at % (seed.len() + 1) };
                match kind {
                    0 if at < seed.len() => seed[at] = byte,
                    1 => seed.insert(at, byte),
                    _ => seed.truncate(at),
                }
            }
            (target, seed)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_inputs(target in 0..TARGETS.len(), data in prop::collection::vec(any::<u8>(), 0..600)) {
        (TARGETS[target].1)(&data);
    }

    #[test]
    fn mutated_seeds((target, data) in mutated()) {
        (TARGETS[target].1)(&data);
    }
}
