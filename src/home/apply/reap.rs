//! Deleting what a change took out of the home, on a second thread. A
//! replaced link is swapped out to a temporary name and a removed one moved
//! aside, each checked there to be what the plan saw; then all that is left
//! is to unlink it, a change of its directory that costs as much as the
//! change itself and that nothing later waits for. With enough of them, a
//! helper thread unlinks them while the activation goes on with its next
//! changes (a switch of 100,000 files has about 15,000).
//!
//! The helper gets a directory's entries together, once the activation has
//! gone on to another directory: two threads changing one directory wait on
//! its lock (at 100,000 files the kernel spun on it for 127 ms of CPU in a
//! switch of 1.5 s), and each hand-over may wake the helper, so one per
//! directory rather than one per entry.
//!
//! An entry waiting to be unlinked is one the journal already accounts for:
//! undo finds it at its temporary or trash name, as after a kill between the
//! check and the unlink, and puts it back. Before anything is undone, so
//! that the two never work on one entry at once, before a directory is
//! removed (it must be empty), and before the commit, the helper is waited
//! for ([`Reaper::wait`]); an unlink that failed fails the activation there,
//! as it did when it was made in line.

use std::cell::RefCell;
use std::io;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::Scope;

use super::{op_err_at, Error};
use crate::manifest::RelPath;
use crate::sys::dirfd::DirFd;
use crate::sys::fault;

/// Below this many unlinks, the helper costs more than it saves, or
/// saves nothing. It pays only where an unlink costs much more than
/// waking a thread, and that depends on the machine. On the 2-core VM it
/// was written on (unlinks of 20–35 µs), it sped up switches of 1,000 and
/// of 100,000 files. On a later 2-core VM whose system calls were 3.5
/// times faster, a switch of 10,000 files (1,500 unlinks) took 79 ms with
/// the helper and 67 ms without, one of 1,000 files 10.2 and 9.6 ms, and
/// one of 100,000 files (15,000 unlinks) the same with or without it. So
/// only switches of that size get it.
const WORTH_A_THREAD: usize = 8192;

/// Who unlinks: this thread at once, or the helper.
pub(super) struct Reaper {
    helper: Option<mpsc::Sender<Job>>,
    /// The entries of the directory the activation is in, not handed over
    /// yet.
    pending: RefCell<Vec<Unlink>>,
    home: Arc<Path>,
}

/// Unlink `name` in `dir`, which holds what was taken out of `path`.
struct Unlink {
    dir: Arc<DirFd>,
    name: Box<str>,
    path: RelPath,
}

impl Unlink {
    fn run(&self, home: &Path) -> Result<(), Error> {
        unlink_now(&self.dir, &self.name, &self.path, home)
    }
}

enum Job {
    /// The unlinks of one directory, in order.
    Unlink(Vec<Unlink>),
    /// Reply with the first failure since the last reply, once every job
    /// before this one is done.
    Wait(mpsc::SyncSender<Option<Error>>),
}

impl Reaper {
    /// A reaper for an activation that will unlink `unlinks` entries: with a
    /// helper in `scope` when that many are worth one (and a thread can be
    /// made), otherwise one that unlinks in line.
    pub(super) fn new<'scope>(
        scope: &'scope Scope<'scope, '_>,
        unlinks: usize,
        home: &Arc<Path>,
    ) -> Self {
        let helper = (unlinks >= WORTH_A_THREAD)
            .then(|| {
                let (tx, rx) = mpsc::channel();
                let home = Arc::clone(home);
                std::thread::Builder::new()
                    .name("hearth-reap".into())
                    .spawn_scoped(scope, move || reap(&rx, &home))
                    .ok()
                    .map(|_| tx)
            })
            .flatten();
        Reaper {
            helper,
            pending: RefCell::new(Vec::new()),
            home: Arc::clone(home),
        }
    }

    /// Unlinks `name` in `dir`, what was taken out of `path` and checked:
    /// now, or soon on the helper.
    pub(super) fn unlink(&self, dir: &Arc<DirFd>, name: &str, path: &RelPath) -> Result<(), Error> {
        if self.helper.is_none() {
            return unlink_now(dir, name, path, &self.home);
        }
        let elsewhere = self
            .pending
            .borrow()
            .last()
            .is_some_and(|u| !Arc::ptr_eq(&u.dir, dir));
        if elsewhere {
            self.hand_over()?;
        }
        self.pending.borrow_mut().push(Unlink {
            dir: Arc::clone(dir),
            name: name.into(),
            path: path.clone(),
        });
        Ok(())
    }

    /// Gives the helper the entries waiting here.
    fn hand_over(&self) -> Result<(), Error> {
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        let Some(helper) = self.helper.as_ref().filter(|_| !batch.is_empty()) else {
            return Ok(());
        };
        // The helper ends only when this sender is dropped; should it be
        // gone anyway (it panicked), the batch comes back and is done here.
        if let Err(mpsc::SendError(Job::Unlink(batch))) = helper.send(Job::Unlink(batch)) {
            for u in batch {
                u.run(&self.home)?;
            }
        }
        Ok(())
    }

    /// Waits until every unlink asked for so far is done; the first that
    /// failed since the last wait is the error.
    pub(super) fn wait(&self) -> Result<(), Error> {
        let Some(helper) = &self.helper else {
            return Ok(());
        };
        self.hand_over()?;
        let (tx, rx) = mpsc::sync_channel(1);
        if helper.send(Job::Wait(tx)).is_err() {
            return Ok(());
        }
        match rx.recv() {
            Ok(Some(error)) => Err(error),
            Ok(None) | Err(_) => Ok(()),
        }
    }
}

/// The helper: does the jobs in the order they came, until the reaper is
/// dropped.
fn reap(jobs: &mpsc::Receiver<Job>, home: &Path) {
    let mut failed = None;
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Unlink(batch) => {
                for u in batch {
                    if let Err(e) = u.run(home) {
                        failed.get_or_insert(e);
                    }
                }
            }
            Job::Wait(reply) => {
                let _ = reply.send(failed.take());
            }
        }
    }
}

/// Unlinks `name` in `dir`; an error names `path`, the target the entry was
/// taken out of (the user knows that one, not the temporary name).
fn unlink_now(dir: &DirFd, name: &str, path: &RelPath, home: &Path) -> Result<(), Error> {
    fault::unlink_point()
        .and_then(|()| dir.unlink(name).map_err(io::Error::from))
        .map_err(op_err_at("remove", home, path))
}
