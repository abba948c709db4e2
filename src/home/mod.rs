//! One activation of one home, in pipeline order: `observe` looks at the
//! home, `plan` decides (pure), `apply` changes it under a journal, `state`
//! records the generation, `roots` keeps the GC roots and the packages
//! profile, `hooks` runs the generation's programs;
//! `activate` drives these phases and the commands that read or prune the
//! history.

pub mod activate;
pub mod apply;
pub mod hooks;
pub mod observe;
pub mod plan;
pub mod roots;
pub mod state;
