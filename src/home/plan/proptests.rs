//! Property tests of the planner's safety: over proptest-generated (old
//! state, new generation, home) triples, the plan played on a model of the
//! home touches only what the ownership rules allow and, when it has no
//! conflict, reaches the new generation (see `model::check_plan`).

use std::cell::Cell;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::model::{check_plan, Scenario};

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        vec(any::<(u8, u8, u8)>(), 0..5),
        prop::bool::weighted(0.85),
        vec(any::<(u8, u8)>(), 0..6),
        vec(
            (
                any::<u8>(),
                any::<u8>(),
                any::<bool>(),
                any::<u8>(),
                prop::bool::weighted(0.25),
            ),
            0..5,
        ),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(old, as_left, edits, new, backup)| Scenario {
            old,
            as_left,
            edits,
            new,
            backup,
        })
}

/// Cases per run; `HEARTH_PROPTEST_CASES` raises it for a longer hunt.
fn cases() -> u32 {
    std::env::var("HEARTH_PROPTEST_CASES").map_or(20_000, |n| n.parse().unwrap())
}

#[test]
fn plans_respect_ownership() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        // A failure is shrunk and printed; the model is cheap, keep going long.
        max_shrink_iters: 10_000,
        ..Config::default()
    });
    let (clean, conflicted) = (Cell::new(0u32), Cell::new(0u32));
    let result = runner.run(&scenario(), |s| {
        let (case, fs) = s.build();
        match check_plan(&case, &fs) {
            Ok(true) => conflicted.set(conflicted.get() + 1),
            Ok(false) => clean.set(clean.get() + 1),
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "{e}\ncase: {case:?}\nhome: {fs:?}"
                )))
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator must reach both outcomes often, or the property says little.
    let n = cases() / 10;
    assert!(
        clean.get() > n && conflicted.get() > n,
        "{} clean, {} conflicted",
        clean.get(),
        conflicted.get()
    );
    eprintln!(
        "plans_respect_ownership: {} cases, {} clean, {} conflicted",
        cases(),
        clean.get(),
        conflicted.get()
    );
}
