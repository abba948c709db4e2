//! One activation of one home, in pipeline order: `confirm` settles a run
//! that changes nothing from the record alone; otherwise `observe` looks at the
//! home (with `ahead` reading links on a second thread), `plan` decides (pure), `journal` records the changes before `apply`
//! makes them, `state` records the generation, `roots` keeps the GC roots and
//! the packages profile (`packages` tells what changes in it), `hooks` runs the generation's programs, `units`
//! decides what to do to the user's systemd units; `activate`
//! drives these phases and the commands that read or prune the history;
//! `snapshot` lets the commands that only read do so without waiting for
//! the lock. The
//! files hearth keeps (`state.json`, the journal) have versioned formats of
//! their own, defined in `state` and `journal`.

pub mod activate;
pub mod ahead;
pub mod apply;
pub mod confirm;
pub mod hooks;
pub mod journal;
pub mod observe;
pub mod packages;
pub mod plan;
pub mod roots;
pub mod snapshot;
pub mod stamps;
pub mod state;
pub mod units;
