//! hearth: applies a per-user generation (a manifest of files, packages and
//! steps built by Nix) to a home directory, transactionally.
//!
//! Data flows one way: `manifest` (load, validate) → `observe` (look at the
//! home) → `plan` (pure diff) → `apply` (journaled changes) → `state`
//! (commit); `activation` drives it and `main.rs` is the command line.

pub mod activation;
pub mod apply;
pub mod buildenv;
pub mod dirfd;
pub mod fault;
pub mod fxhash;
pub mod generation;
pub mod hooks;
pub mod manifest;
pub mod nixprofile;
pub mod observe;
pub mod plan;
pub mod privilege;
pub mod report;
pub mod spec;
pub mod state;
