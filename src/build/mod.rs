//! What runs inside Nix builds, never on a home: the packages environment
//! (`hearth build-env`) and the generation directory (`hearth
//! build-generation`), both from the spec the Nix modules write.

pub mod buildenv;
pub mod generation;
pub mod spec;
