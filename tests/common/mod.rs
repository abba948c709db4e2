//! Shared fixtures for the integration tests, by purpose: generations built
//! by a real nix-build (`generations`), throwaway homes and the hearth binary
//! run as a process in them (`homes`), full snapshots of a home to compare
//! before and after (`snapshots`), real throwaway users (`users`, as root),
//! one-call file fixtures (`fs`), and hearth processes stopped on
//! purpose (`procs`). Everything is re-exported here, so a
//! test module says `use crate::common::*;` whatever part it uses.
//! Nothing here may depend on how hearth behaves: it only sets the stage.

#[macro_use]
pub mod users;

mod fs;
#[macro_use]
pub mod nix_eval;
mod generations;
mod homes;
mod procs;
mod snapshots;

pub use fs::*;
pub use generations::*;
pub use homes::*;
pub use procs::*;
pub use snapshots::*;
pub use users::current_user;
