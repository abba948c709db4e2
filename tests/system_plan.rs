//! The one-sentence last line of a failed activation, which systemd's last
//! 10 journal lines of a failed unit keep (`nixos-rebuild switch` shows
//! no more).

use crate::common;

use std::fs;

use common::{build_generations, path_str, Run, TestHome};

/// A failed activation's last line on stderr says whose, what, how many
/// paths, and whether the home changed; the full report stays above it.
#[test]
fn the_last_line_of_a_failed_activation_says_it_all() {
    let home = TestHome::new();
    let gens = build_generations(&[
        home.gen()
            .text(".a", "a\n")
            .text(".b", "b\n")
            .text(".c", "c\n"),
        home.gen()
            .text(".d", "d\n")
            .step("fails", "files", "echo broken; exit 1"),
    ]);
    for rel in [".a", ".b", ".c"] {
        fs::write(home.join(rel), "mine\n").unwrap();
    }
    let g0 = path_str(&gens[0]);
    let run = home.hearth(["activate", g0]);
    run.assert_code(3);
    let plan = home.hearth(["plan", g0]);
    plan.assert_code(3);
    let hooked = home.hearth(["activate", path_str(&gens[1])]);
    hooked.assert_code(5);
    let last = |r: &Run| r.stderr.lines().last().unwrap_or_default().to_string();
    insta::assert_snapshot!(
        "last_lines",
        home.redact_user(&[last(&run), last(&plan), last(&hooked)].join("\n"))
    );
    // The full report is still above.
    assert!(
        run.stderr.starts_with("error: 3 paths are in the way"),
        "{run}"
    );
}
