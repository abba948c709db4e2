#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failed test, with its message"
)]
//! hearth's integration tests, as one binary (as ripgrep and fd do): one link
//! and one build of the shared harness instead of one per file. Each module
//! is one file of tests/ and runs hearth as a process against real nix-built
//! generations; the shared fixtures are in tests/common/.
//!
//! Run one file's tests with `cargo nextest run -E 'test(/^files::/)'` or
//! `cargo test --test integration files::`.
//!
//! Cargo does not look for test files here (`autotests = false`): a file that
//! is not declared below would never run, which the test at the end refuses.
//! Tests belong in the modules; this file holds only their declarations and
//! the check of that layout.

#[macro_use]
mod common;

mod adversarial;
mod build;
mod cli_docs;
mod commit;
mod confirm;
mod diff;
mod doctor;
mod faults;
mod files;
mod formats;
mod harness;
mod inputs;
mod migrate;
mod nix_activation;
mod nix_hm;
mod nix_home;
mod nix_lib;
mod nix_modules;
mod nix_real;
mod output;
mod packages;
mod power;
mod races;
mod root;
mod root_attacks;
mod root_env;
mod root_output;
mod standalone;
mod steps;
mod system_packages;
mod system_plan;
mod term;
mod transaction;
mod traps;
mod user_units;

use std::fs;
use std::path::Path;

/// The names (without `.rs`) of the test files in tests/, besides this one.
fn test_files(tests: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(tests)
        .expect("read tests/")
        .map(|e| e.expect("read tests/ entry").file_name())
        .filter_map(|n| n.to_str()?.strip_suffix(".rs").map(str::to_owned))
        .filter(|n| n != "main")
        .collect();
    names.sort();
    names
}

/// A test file that is not declared above compiles into nothing and its tests
/// silently never run; a snapshot named for the old one-binary-per-file layout
/// (`files__x.snap`) is never read again, and the test that wrote it asks for
/// a new one. Both happen when a branch made before the merge into one binary
/// is merged.
#[test]
fn every_test_file_is_a_module_and_every_snapshot_is_named_for_one() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = fs::read_to_string(tests.join("main.rs")).expect("read tests/main.rs");
    let files = test_files(&tests);
    let undeclared: Vec<&String> = files
        .iter()
        .filter(|n| !main.lines().any(|l| l == format!("mod {n};")))
        .collect();
    assert!(
        undeclared.is_empty(),
        "tests/{{{}}}.rs are not declared in tests/main.rs (add `mod NAME;` there, and \
         `use crate::common;` instead of `mod common;` in the file)",
        undeclared
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let crate_prefix = concat!(env!("CARGO_CRATE_NAME"), "__");
    let misnamed: Vec<String> = fs::read_dir(tests.join("snapshots"))
        .expect("read tests/snapshots")
        .map(|e| e.expect("read tests/snapshots entry").file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| {
            let module = n
                .strip_prefix(crate_prefix)
                .and_then(|rest| rest.split_once("__"))
                .map(|(module, _)| module);
            !module.is_some_and(|m| files.iter().any(|f| f == m))
        })
        .collect();
    assert!(
        misnamed.is_empty(),
        "snapshots not named {crate_prefix}<module>__<name>.snap (rename them: \
         `files__x.snap` is now `{crate_prefix}files__x.snap`):\n{}",
        misnamed.join("\n")
    );
}
