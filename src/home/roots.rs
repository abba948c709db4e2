//! What an activation keeps alive outside the home's files: the GC root of
//! each recorded generation (`gcroots/N` in hearth's state) and the packages
//! profile. Effects only; whether to change them is decided by `activate`.
//! Never prints: problems that do not stop an activation are returned as
//! warnings for the edge to show.

use std::path::{Path, PathBuf};

use crate::home::state::{Data, State};
use crate::sys::nixtools;

/// The directory of the packages profile: beside hearth's state, under the
/// same XDG state directory (or `~/.local/state` when that has no parent).
pub fn profile_dir(state_dir: &Path, home: &Path) -> PathBuf {
    let base = state_dir
        .parent()
        .map_or_else(|| home.join(".local/state"), Path::to_path_buf);
    base.join("nix/profiles")
}

/// The packages profile itself.
pub fn profile(state_dir: &Path, home: &Path) -> PathBuf {
    profile_dir(state_dir, home).join("hearth-packages")
}

/// Removes GC roots of generations that are not in the history: left by a
/// run that was killed (its `nix-store --add-root` child may finish after
/// it). Returns what could not be removed.
pub fn prune(st: &State, data: &Data, user: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(st.dir.join("gcroots")) else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    for entry in entries.flatten() {
        let known = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| data.find(n).is_some());
        if !known {
            if let Err(e) = nixtools::remove_gc_root(&entry.path(), user) {
                warnings.push(e.to_string());
            }
        }
    }
    warnings
}

/// The profile change an activation makes: the new packages and what the
/// profile pointed at before (to put back on a revert); `None` when the
/// profile already holds them or the generation has no packages.
pub fn profile_change(
    profile: &Path,
    packages: Option<&PathBuf>,
) -> Option<(PathBuf, Option<PathBuf>)> {
    packages
        .filter(|p| !nixtools::profile_is(profile, p))
        .map(|p| (p.clone(), nixtools::profile_link(profile)))
}

/// Puts the profile back on `link`, if it moved. Used by every revert.
pub fn restore_profile(profile: &Path, link: Option<&Path>) -> Result<(), nixtools::Error> {
    if nixtools::profile_link(profile).as_deref() != link {
        nixtools::restore_profile(profile, link)?;
    }
    Ok(())
}

/// The GC root of the generation being activated, registered while its
/// files are applied. A new root for a generation that then fails to
/// activate is removed again.
pub struct Root {
    path: PathBuf,
    user: String,
    pending: Option<nixtools::PendingRoot>,
}

impl Root {
    /// Starts registering `gen`'s root as generation `number`, unless it is
    /// already there or `gen` is not in the store (a test generation).
    pub fn start(st: &State, number: u64, gen: &Path, user: &str) -> Result<Root, nixtools::Error> {
        let path = st.gc_root(number);
        let pending =
            if nixtools::in_store(gen) && std::fs::read_link(&path).ok().as_deref() != Some(gen) {
                Some(nixtools::start_gc_root(&path, gen, user)?)
            } else {
                None
            };
        Ok(Root {
            path,
            user: user.to_string(),
            pending,
        })
    }

    /// Waits for the registration to finish.
    pub fn wait(&mut self) -> Result<(), nixtools::Error> {
        self.pending
            .take()
            .map_or(Ok(()), nixtools::PendingRoot::wait)
    }

    /// The activation failed: the root goes again unless the history still
    /// names this generation number (`known`).
    pub fn abandon(&mut self, known: bool) {
        // Best effort: a root left behind is pruned by the next run.
        let _ = self.wait();
        if !known {
            let _ = nixtools::remove_gc_root(&self.path, &self.user);
        }
    }
}

/// Deletes the packages profile's generations (`hearth-packages-N-link`)
/// that lead to an environment only removed hearth generations used
/// (`gone`, not in `kept`), so that those packages are no longer rooted.
/// The profile's current generation always stays, and so does a link to
/// anything else. A remaining generation's environment is rooted by the
/// generation itself (its manifest refers to it), so a rollback to it
/// needs no profile link.
pub fn prune_profile(
    profile: &Path,
    gone: &[PathBuf],
    kept: &[PathBuf],
) -> Result<(), nixtools::Error> {
    if gone.is_empty() {
        return Ok(());
    }
    let links = crate::home::packages::profile_generations(profile);
    let current = crate::home::packages::current_profile_generation(profile);
    let doomed = crate::home::packages::prunable(&links, current, gone, kept);
    if doomed.is_empty() {
        return Ok(());
    }
    nixtools::delete_profile_generations(profile, &doomed)
}

/// Registers the root, then points the profile at the new packages. Either
/// failing fails the activation (which `activate` reverts).
pub fn commit_packages(
    root: &mut Root,
    profile: &Path,
    change: Option<&(PathBuf, Option<PathBuf>)>,
) -> Result<(), nixtools::Error> {
    root.wait()?;
    match change {
        Some((pkgs, _)) => nixtools::set_profile(profile, pkgs),
        None => Ok(()),
    }
}
