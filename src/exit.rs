//! The one exit-status type: every status hearth exits with, and what each
//! means. The README's table and `--help` are rendered from `ExitCode::ALL`,
//! so the documentation cannot drift from the code. Nothing else in hearth
//! may spell an exit status as a number.

use std::fmt::Write as _;

/// How a hearth run ended, as its exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Success,
    /// I/O, Nix, state; also root mode's `activate-users` when a user
    /// failed, and `plan --system` when a user's plan could not be made.
    Error,
    InvalidInput,
    /// Conflicts, or a path changed while hearth applied (reverted).
    Conflicts,
    Reverted,
    HookFailed,
    Drift,
    RevertFailed,
    /// Root mode: the user's activation was killed by this signal.
    Killed(u8),
}

impl ExitCode {
    /// Every status with a fixed number, in order, for the documentation.
    pub const ALL: [ExitCode; 8] = [
        ExitCode::Success,
        ExitCode::Error,
        ExitCode::InvalidInput,
        ExitCode::Conflicts,
        ExitCode::Reverted,
        ExitCode::HookFailed,
        ExitCode::Drift,
        ExitCode::RevertFailed,
    ];

    /// The number the process exits with. A signal is shown as a shell does
    /// (128 + N), saturating rather than wrapping into a documented status.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Error => 1,
            ExitCode::InvalidInput => 2,
            ExitCode::Conflicts => 3,
            ExitCode::Reverted => 4,
            ExitCode::HookFailed => 5,
            ExitCode::Drift => 6,
            ExitCode::RevertFailed => 7,
            ExitCode::Killed(sig) => 128u8.saturating_add(sig),
        }
    }

    /// The status a child hearth exited with (root mode), read back. A
    /// number hearth does not document is an error of its own.
    pub fn from_code(code: u8) -> ExitCode {
        ExitCode::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .unwrap_or(match code.checked_sub(128) {
                Some(sig) if sig > 0 => ExitCode::Killed(sig),
                _ => ExitCode::Error,
            })
    }

    pub fn is_success(self) -> bool {
        self == ExitCode::Success
    }

    /// What the status means, for the README table and `--help`.
    pub fn description(self) -> &'static str {
        match self {
            ExitCode::Success => "success",
            ExitCode::Error => {
                "other error (I/O, Nix, state); nothing changed unless the message says otherwise. \
                 `activate-users`: some user's activation failed; `plan --system`: some user's plan \
                 could not be made"
            }
            ExitCode::InvalidInput => "invalid input: manifest, arguments, wrong user or home",
            ExitCode::Conflicts => {
                "conflicts: something is in the way, or a path changed while hearth applied \
                 (then every change was reverted); nothing was changed"
            }
            ExitCode::Reverted => {
                "the activation failed and was reverted; the home is exactly as before"
            }
            ExitCode::HookFailed => {
                "a step or hook failed: for a `check` step nothing changed; otherwise the files \
                 are applied and the generation is recorded"
            }
            ExitCode::Drift => {
                "`hearth status`, `hearth diff`: the home differs from the current generation"
            }
            ExitCode::RevertFailed => {
                "a revert failed; the journal is kept and the next run retries it"
            }
            ExitCode::Killed(_) => "root mode: the user's activation was killed by a signal",
        }
    }

    /// What one user's activation came to, for root mode's summary.
    pub fn outcome(self, dry_run: bool) -> &'static str {
        match self {
            ExitCode::Success if dry_run => "planned (dry run)",
            ExitCode::Success => "activated",
            ExitCode::InvalidInput => "refused: invalid input",
            ExitCode::Conflicts => "failed: conflicts, nothing changed",
            ExitCode::Reverted => "failed and reverted, home as before",
            ExitCode::HookFailed => "a step or hook failed",
            ExitCode::RevertFailed => "failed; the revert failed too, journal kept",
            ExitCode::Killed(_) => "killed",
            ExitCode::Error | ExitCode::Drift => "failed",
        }
    }

    /// The README's table (Markdown).
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | meaning |\n|---|---|\n");
        for c in ExitCode::ALL {
            let _ = writeln!(out, "| {} | {} |", c.code(), c.description());
        }
        out.push_str("| 128+N | root mode: the user's activation was killed by signal N |\n");
        out
    }

    /// The same, for `--help`.
    pub fn help_text() -> String {
        let mut out = String::from("Exit status:\n");
        for c in ExitCode::ALL {
            let _ = writeln!(out, "  {}  {}", c.code(), c.description());
        }
        out.push_str("  128+N  root mode: the user's activation was killed by signal N\n");
        out
    }
}

impl From<ExitCode> for i32 {
    fn from(c: ExitCode) -> i32 {
        i32::from(c.code())
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> std::process::ExitCode {
        std::process::ExitCode::from(c.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn codes_read_back() {
        for c in ExitCode::ALL {
            assert_eq!(ExitCode::from_code(c.code()), c);
        }
        assert_eq!(ExitCode::from_code(137), ExitCode::Killed(9));
        assert_eq!(ExitCode::Killed(9).code(), 137);
        assert_eq!(ExitCode::from_code(101), ExitCode::Error);
        assert_eq!(ExitCode::from_code(128), ExitCode::Error);
    }

    /// The README's table is this enum's, word for word.
    #[test]
    fn readme_table_is_rendered_from_the_enum() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&ExitCode::markdown_table()),
            "README.md's exit-status table differs; paste this:\n{}",
            ExitCode::markdown_table()
        );
    }
}
