//! The system underneath an activation: directories held open for
//! descriptor-relative I/O, the Nix tools (store, profiles, GC roots), fault
//! injection for tests, and a fast hash for path maps.

pub mod dirfd;
pub mod fault;
pub mod fxhash;
pub mod nixtools;
