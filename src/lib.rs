//! hearth: applies a per-user generation (a manifest of files, packages and
//! steps built by Nix) to a home directory, transactionally.
//!
//! The folders show when code runs:
//! - `build/`: inside Nix builds (the packages environment, the generation
//!   directory, from the spec the Nix modules write);
//! - `home/`: one activation of one home, in pipeline order: `observe`
//!   (look) → `plan` (pure diff) → `apply` (journaled changes) → `roots`
//!   (GC roots, packages profile) → `state` (commit) → `hooks`; `activate`
//!   drives it as phases and prints nothing (it reports `Event`s);
//! - `root`: root mode, which runs each user's activation in a process
//!   dropped to that user;
//! - `sys/`: the system underneath (descriptor-relative I/O, the Nix tools,
//!   fault injection for tests).
//!
//! `system` reads the homes a NixOS or nix-darwin system publishes
//! (`hearth plan --system`); `standalone` builds a home.nix or a flake's
//! home with Nix (`hearth switch`, `build`, `init`).
//!
//! `exit` is the one exit-status type; `manifest` is the contract between
//! the Nix side and the activator; `report` renders everything a person or a
//! program reads (`term` dresses it for a terminal or the journal);
//! `main.rs` is the command line.

pub mod build;
pub mod cli_docs;
pub mod diff;
pub mod doctor;
pub mod duration;
pub mod exit;
pub mod home;
pub mod manifest;
pub mod report;
pub mod root;
pub mod standalone;
pub mod sys;
pub mod system;
pub mod term;
