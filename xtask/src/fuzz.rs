//! `cargo xtask fuzz [seconds]`: every fuzz target under libFuzzer (cargo-fuzz on the nightly
//! toolchain), each for `seconds` (default 60), starting from the committed seed corpora in
//! `fuzz-targets/corpus/<target>` and keeping what it learns in `fuzz/corpus/<target>`
//! (ignored by git). A crash stops the run and leaves its input in `fuzz/artifacts/<target>/`.
//!
//! `cargo xtask ci` runs each target briefly ([`CI_SECONDS`]) when the nightly toolchain and
//! cargo-fuzz are there; the same target bodies also run on stable in every `cargo test`
//! (`fuzz-targets/tests/fallback.rs`).

use std::path::Path;
use std::process::Command;

/// How long `cargo xtask ci` runs each target.
pub const CI_SECONDS: u32 = 10;

/// Why libFuzzer cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    let nightly = Command::new("cargo").args(["+nightly", "--version"]).output();
    if !nightly.is_ok_and(|o| o.status.success()) {
        return Some(
            "the nightly toolchain is not installed (`rustup toolchain install nightly`)".into(),
        );
    }
    let fuzz = Command::new("cargo").args(["fuzz", "--version"]).output();
    if !fuzz.is_ok_and(|o| o.status.success()) {
        return Some("cargo-fuzz is not installed (`cargo install cargo-fuzz --locked`)".into());
    }
    None
}

/// The targets: the `[[bin]]` names of `fuzz/Cargo.toml`.
fn targets(root: &Path) -> Result<Vec<String>, String> {
    let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml"))
        .map_err(|err| format!("read fuzz/Cargo.toml: {err}"))?;
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(name) = line.strip_prefix("name = ") {
            targets.push(name.trim_matches('"').to_owned());
        }
    }
    if targets.is_empty() {
        return Err("fuzz/Cargo.toml names no targets".into());
    }
    Ok(targets)
}

/// Builds every target, then runs each for `seconds`.
pub fn run(root: &Path, seconds: u32) -> Result<(), String> {
    if let Some(why) = unavailable() {
        return Err(format!("libFuzzer cannot run: {why}"));
    }
    let fuzz_dir = root.join("fuzz");
    let cargo_fuzz = |args: &[&str]| -> Result<(), String> {
        let shown = format!("cargo +nightly fuzz {}", args.join(" "));
        eprintln!("==> fuzz: {shown}");
        let status = Command::new("cargo")
            .arg("+nightly")
            .arg("fuzz")
            .args(args)
            .current_dir(&fuzz_dir)
            .status()
            .map_err(|err| format!("could not run `{shown}`: {err}"))?;
        if status.success() { Ok(()) } else { Err(format!("`{shown}` failed ({status})")) }
    };
    cargo_fuzz(&["build"])?;
    for target in targets(root)? {
        let work = fuzz_dir.join("corpus").join(&target);
        std::fs::create_dir_all(&work)
            .map_err(|err| format!("create {}: {err}", work.display()))?;
        let seeds = root.join("fuzz-targets/corpus").join(&target);
        let (work, seeds) = (work.display().to_string(), seeds.display().to_string());
        let time = format!("-max_total_time={seconds}");
        // New inputs go to the first directory (the work corpus), never into the seeds.
        cargo_fuzz(&["run", &target, &work, &seeds, "--", &time, "-max_len=4096"])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_of_the_fuzz_project_has_a_seed_corpus() {
        let root = crate::ci::workspace_root();
        let targets = targets(&root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(targets.len(), 7, "{targets:?}");
        for target in targets {
            let seeds = root.join("fuzz-targets/corpus").join(&target);
            assert!(seeds.is_dir(), "{target}: no seeds in {}", seeds.display());
            let driver = root.join("fuzz/fuzz_targets").join(format!("{target}.rs"));
            assert!(driver.is_file(), "{target}: no driver {}", driver.display());
        }
    }
}
