//! Fault injection for tests: with the `fault-injection` feature, the k-th
//! write of a run can be made to fail (`HEARTH_FAULT_FAIL_AT=k`) or to kill the
//! process outright (`HEARTH_FAULT_KILL_AT=k`, SIGKILL), or to stop it
//! (`HEARTH_FAULT_PAUSE_AT=k`, SIGSTOP) so that a test's second process can
//! change the home at exactly that moment and then continue it; and the
//! record of an activation (`state.json`) can be made to fail
//! (`HEARTH_FAULT_RECORD_FAIL=1`), and so can the k-th unlink of what a
//! change took out of the home (`HEARTH_FAULT_UNLINK_FAIL_AT=k`). Release
//! builds do not have the feature, and then `write_point` is an empty
//! inline function.

#[cfg(feature = "fault-injection")]
mod imp {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    static WRITES: AtomicU64 = AtomicU64::new(0);

    fn setting(name: &str) -> Option<u64> {
        std::env::var(name).ok()?.parse().ok()
    }

    pub fn write_point() -> std::io::Result<()> {
        static PLAN: OnceLock<(Option<u64>, Option<u64>, Option<u64>)> = OnceLock::new();
        let (fail_at, kill_at, pause_at) = *PLAN.get_or_init(|| {
            (
                setting("HEARTH_FAULT_FAIL_AT"),
                setting("HEARTH_FAULT_KILL_AT"),
                setting("HEARTH_FAULT_PAUSE_AT"),
            )
        });
        let k = WRITES.fetch_add(1, Ordering::SeqCst) + 1;
        if pause_at == Some(k) {
            let _ =
                nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGSTOP);
        }
        if kill_at == Some(k) {
            let _ =
                nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
        }
        if fail_at == Some(k) {
            return Err(std::io::Error::other(format!(
                "injected fault at write {k}"
            )));
        }
        Ok(())
    }

    /// The deletions of the cleanup after a commit, counted apart
    /// (`HEARTH_FAULT_CLEANUP_FAIL_AT=k`), so that the write points of a
    /// switch stay the same whether or not it cleans up.
    pub fn cleanup_point() -> std::io::Result<()> {
        static CLEANUPS: Counted = Counted::new("HEARTH_FAULT_CLEANUP_FAIL_AT", "cleanup");
        CLEANUPS.next()
    }

    /// The unlinks of what a change took out of the home and checked (an
    /// old link swapped out, a removed link moved aside), made in line or on
    /// `apply`'s helper thread: `HEARTH_FAULT_UNLINK_FAIL_AT=k` fails the
    /// k-th, counted apart so that the write points stay put.
    pub fn unlink_point() -> std::io::Result<()> {
        static UNLINKS: Counted = Counted::new("HEARTH_FAULT_UNLINK_FAIL_AT", "unlink");
        UNLINKS.next()
    }

    /// Points of one kind, counted apart from the writes: the k-th fails
    /// when the setting says k.
    struct Counted {
        setting: &'static str,
        what: &'static str,
        count: AtomicU64,
        at: OnceLock<Option<u64>>,
    }

    impl Counted {
        const fn new(setting: &'static str, what: &'static str) -> Self {
            Counted {
                setting,
                what,
                count: AtomicU64::new(0),
                at: OnceLock::new(),
            }
        }

        fn next(&self) -> std::io::Result<()> {
            let at = *self.at.get_or_init(|| setting(self.setting));
            let k = self.count.fetch_add(1, Ordering::SeqCst) + 1;
            if at == Some(k) {
                let what = self.what;
                return Err(std::io::Error::other(format!(
                    "injected fault at {what} {k}"
                )));
            }
            Ok(())
        }
    }

    /// Writing `state.json`: fails when `HEARTH_FAULT_RECORD_FAIL` is set,
    /// counted apart from the home's writes so that their points stay put.
    pub fn record_point() -> std::io::Result<()> {
        if std::env::var_os("HEARTH_FAULT_RECORD_FAIL").is_some() {
            return Err(std::io::Error::other("injected fault at the record"));
        }
        Ok(())
    }
}

#[cfg(feature = "fault-injection")]
pub use imp::{cleanup_point, record_point, unlink_point, write_point};

#[cfg(not(feature = "fault-injection"))]
#[inline]
pub fn write_point() -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(feature = "fault-injection"))]
#[inline]
pub fn cleanup_point() -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(feature = "fault-injection"))]
#[inline]
pub fn unlink_point() -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(feature = "fault-injection"))]
#[inline]
pub fn record_point() -> std::io::Result<()> {
    Ok(())
}
