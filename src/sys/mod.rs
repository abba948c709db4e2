//! The system underneath an activation: directories held open for
//! descriptor-relative I/O, the Nix tools (store, profiles, GC roots), fault
//! injection for tests, a fast hash for path maps, fast JSON strings for
//! the journal and the state, how the allocator returns large blocks, and
//! the user's systemd manager (`systemctl --user`, the runtime directory).

pub mod dirfd;
pub mod fault;
pub mod fxhash;
pub mod json;
pub mod malloc;
pub mod nixtools;
pub mod systemctl;
