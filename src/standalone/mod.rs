//! Standalone hearth (`hearth switch`, `hearth build`, `hearth init`): from
//! a `home.nix` or a flake's home to a generation built by Nix, which
//! `home::activate` then applies like any other. This module runs Nix and
//! writes the starting files of `init`; it prints nothing itself (Nix's
//! own output goes straight to stderr) and never activates.

pub mod eval;
pub mod init;

use std::io;
use std::path::PathBuf;

use crate::exit::ExitCode;

/// What can stop a standalone build or `hearth init`, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no home configuration at {}\nhint: run `hearth init` to write one, or give another with -f FILE or --flake REF#NAME", path.display())]
    NoHome { path: PathBuf },
    #[error("nixpkgs is not in Nix's search path: {detail}\nhint: give -I nixpkgs=PATH (a nixpkgs checkout or channel), set NIX_PATH=nixpkgs=PATH, add a channel (`nix-channel --add https://nixos.org/channels/nixpkgs-unstable nixpkgs && nix-channel --update`), or use a flake (--flake REF#NAME)")]
    NoNixpkgs { detail: String },
    #[error("{program} was not found on PATH\nhint: install Nix (https://nixos.org/download), then open a new shell (or put Nix's bin directory on PATH)")]
    NixMissing { program: String },
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("building the home {what} failed ({status}); Nix says why above\nhint: fix what Nix names (--show-trace shows where it came from); nothing was activated")]
    BuildFailed { what: String, status: String },
    #[error("{program} succeeded but printed no generation for {what} (it printed {output:?})\nhint: this is a bug in hearth's Nix files; please report it")]
    NoOutput {
        program: String,
        what: String,
        output: String,
    },
    #[error("the flake {flake} has no home named {name:?}: neither hearthConfigurations.{name} nor homeConfigurations.{name} exists\n{}hint: give one of its homes (--flake {flake}#NAME), or add hearthConfigurations.{name} = hearth.lib.homeConfiguration {{ ... }}", known_line(known))]
    NoSuchHome {
        flake: String,
        name: String,
        known: Vec<String>,
    },
    #[error("homeConfigurations.{name} of the flake {flake} is a Home Manager configuration, not a hearth home\nhint: to switch it with hearth, add to the flake's outputs (with hearth and home-manager among its inputs), giving the pkgs, modules and extraSpecialArgs its homeManagerConfiguration has:\n  hearthConfigurations.{name} = hearth.lib.homeConfiguration {{\n    inherit pkgs;\n    modules = [ ./home.nix ];\n    homeManager = home-manager;\n  }};\nthen run `hearth switch --flake {flake}#{name}` (or keep switching it with home-manager)")]
    NotHearthHome { flake: String, name: String },
    #[error("--home-manager {given}: {} is not a Home Manager checkout (it has no modules/modules.nix)\nhint: give the directory of a Home Manager checkout or release tarball (git clone https://github.com/nix-community/home-manager), or <home-manager> for the one in Nix's search path (-I home-manager=PATH, NIX_PATH or a channel)", path.display())]
    NotHomeManager { given: String, path: PathBuf },
    #[error("--home-manager <{name}>: {name} is not in Nix's search path\nhint: give -I {name}=PATH (a Home Manager checkout), set NIX_PATH, add the channel (`nix-channel --add https://github.com/nix-community/home-manager/archive/master.tar.gz home-manager && nix-channel --update`), or give the checkout's directory itself")]
    HomeManagerNotInSearchPath { name: String },
    #[error("hearth's Nix files are not at {}\nhint: set HEARTH_NIX_DIR to the nix/ directory of hearth's source (or reinstall hearth: its package holds them in share/hearth/nix)", tried.display())]
    NixFilesMissing { tried: PathBuf },
    #[error("cannot tell which hearth binary runs: {0}")]
    CurrentExe(io::Error),
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot read the answer from stdin: {0}\nhint: run `hearth init --yes` to add the line without asking")]
    Prompt(io::Error),
}

fn known_line(known: &[String]) -> String {
    if known.is_empty() {
        "it has no hearth homes\n".to_string()
    } else {
        format!("its homes: {}\n", known.join(", "))
    }
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::NoHome { .. }
            | Error::NoSuchHome { .. }
            | Error::NotHearthHome { .. }
            | Error::NotHomeManager { .. }
            | Error::HomeManagerNotInSearchPath { .. } => ExitCode::InvalidInput,
            Error::NoNixpkgs { .. }
            | Error::NixMissing { .. }
            | Error::Spawn { .. }
            | Error::BuildFailed { .. }
            | Error::NoOutput { .. }
            | Error::NixFilesMissing { .. }
            | Error::CurrentExe(_)
            | Error::Io { .. }
            | Error::Prompt(_) => ExitCode::Error,
        }
    }
}

/// Where the default home configuration lives:
/// `$XDG_CONFIG_HOME/hearth/home.nix`, else `~/.config/hearth/home.nix`.
pub fn default_home_file(home: &std::path::Path) -> PathBuf {
    config_dir(home).join("hearth/home.nix")
}

/// `$XDG_CONFIG_HOME` when it is absolute (the spec says to ignore others),
/// else `~/.config`.
pub fn config_dir(home: &std::path::Path) -> PathBuf {
    match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => home.join(".config"),
    }
}
