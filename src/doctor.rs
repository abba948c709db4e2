//! `hearth doctor`: a self check of the setup hearth runs in, each check a
//! level and what to do about a problem: the Nix tools, the state directory
//! and its journal, the GC roots of the recorded generations, the packages
//! profile on `PATH`, the session variables in the environment (and, when
//! they are not, whether a shell file of the home sources them).
//! Reads only, and never waits for the lock (a check must answer while an
//! activation runs); it runs the Nix tools' `--version`, nothing else.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::build::generation::SESSION_VARS;
use crate::home::{packages, roots, state};
use crate::sys::nixtools;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug)]
pub struct Check {
    pub level: Level,
    /// What was checked: `nix-store`, `state`, `journal`, `gc root 3`, ...
    pub topic: String,
    /// What was found.
    pub found: String,
    /// What to do about it (for a warning or a failure).
    pub hint: Option<String>,
}

fn check(level: Level, topic: impl Into<String>, found: impl Into<String>) -> Check {
    Check {
        level,
        topic: topic.into(),
        found: found.into(),
        hint: None,
    }
}

impl Check {
    fn hint(mut self, hint: impl Into<String>) -> Check {
        self.hint = Some(hint.into());
        self
    }
}

/// What the checks look at, from the environment (`HOME`, `PATH`, the
/// session variables), so that a test can give its own.
pub struct Setup {
    pub home: Option<PathBuf>,
    pub path: Option<OsString>,
    pub hearth_vars: bool,
    pub hm_vars: bool,
}

impl Setup {
    pub fn from_env() -> Setup {
        Setup {
            home: std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute()),
            path: std::env::var_os("PATH"),
            hearth_vars: std::env::var_os("__HEARTH_SESS_VARS_SOURCED").is_some(),
            hm_vars: std::env::var_os("__HM_SESS_VARS_SOURCED").is_some(),
        }
    }
}

/// Every check, in the order shown.
pub fn run() -> Vec<Check> {
    let setup = Setup::from_env();
    let mut checks = nix_tools(setup.path.as_ref());
    let Some(home) = &setup.home else {
        checks.push(
            check(
                Level::Fail,
                "home",
                "HOME is not set or not an absolute path",
            )
            .hint("run hearth with HOME set to the home it manages"),
        );
        return checks;
    };
    checks.extend(home_checks(home, &setup));
    checks
}

/// nix-build, nix-store and nix-env: found on PATH, and their versions.
fn nix_tools(path: Option<&OsString>) -> Vec<Check> {
    ["nix-build", "nix-store", "nix-env"]
        .into_iter()
        .map(|tool| {
            let Some(found) = find_on_path(path, tool) else {
                return check(Level::Fail, tool, "not found on PATH").hint(format!(
                    "install Nix, or put its bin directory on PATH (hearth runs {tool}; for example /nix/var/nix/profiles/default/bin)"
                ));
            };
            match duct::cmd!(&found, "--version")
                .stdin_null()
                .stderr_null()
                .stdout_capture()
                .unchecked()
                .run()
            {
                Ok(out) if out.status.success() => check(
                    Level::Ok,
                    tool,
                    format!(
                        "{} ({})",
                        String::from_utf8_lossy(&out.stdout).trim(),
                        found.display()
                    ),
                ),
                Ok(out) => check(
                    Level::Fail,
                    tool,
                    format!("{} --version failed ({})", found.display(), out.status),
                )
                .hint("check the Nix installation (`nix-store --version` should print its version)"),
                Err(e) => check(
                    Level::Fail,
                    tool,
                    format!("{} cannot run: {e}", found.display()),
                )
                .hint("check the Nix installation"),
            }
        })
        .collect()
}

fn find_on_path(path: Option<&OsString>, tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .map(|d| d.join(tool))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The state directory, its journal, the GC roots, the packages profile and
/// the session variables.
fn home_checks(home: &Path, setup: &Setup) -> Vec<Check> {
    let mut checks = Vec::new();
    let dir = state::dir_for(home);
    let shown = crate::report::escape_path(&dir);
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            checks.push(check(
                Level::Ok,
                "state",
                format!("{shown} does not exist yet: no generation was activated in this home"),
            ));
            return checks;
        }
        Err(e) => {
            checks.push(
                check(Level::Fail, "state", format!("{shown} cannot be read: {e}"))
                    .hint("make it a directory you own, or point XDG_STATE_HOME elsewhere"),
            );
            return checks;
        }
        Ok(m) if !m.is_dir() || m.uid() != nix::unistd::geteuid().as_raw() => {
            checks.push(
                check(
                    Level::Fail,
                    "state",
                    format!("{shown} is not a directory owned by you"),
                )
                .hint("remove it or point XDG_STATE_HOME elsewhere; hearth keeps its state there"),
            );
            return checks;
        }
        Ok(_) => {}
    }
    let st = state::State::unlocked(&dir);
    let data = match st.load() {
        Ok(data) => {
            checks.push(check(
                Level::Ok,
                "state",
                format!(
                    "{shown}: format {}, {} generation{} recorded",
                    state::STATE_FORMAT,
                    data.history.len(),
                    if data.history.len() == 1 { "" } else { "s" }
                ),
            ));
            data
        }
        Err(e) => {
            // The error's own text says what is wrong and what to do.
            let text = e.to_string();
            let (found, hint) = text.split_once("\nhint: ").unwrap_or((&text, ""));
            let mut c = check(Level::Fail, "state", found.replace('\n', "; "));
            if !hint.is_empty() {
                c = c.hint(hint.replace('\n', "; "));
            }
            checks.push(c);
            return checks;
        }
    };
    checks.push(journal(&st, &data));
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name);
    let mut history = data.history.clone();
    history.sort_by_key(|g| g.number);
    for g in &history {
        checks.push(gc_root(&st, g, user.as_deref()));
    }
    if let Some(cur) = &data.current {
        checks.push(packages_on_path(home, &st, &data, cur, setup));
        checks.push(session_vars(home, &st, &data, cur, setup));
    }
    checks
}

/// Generation `g`'s root: in hearth's state, pointing at it, registered
/// with Nix (linked from the user's per-user GC-roots directory or from
/// `auto/`), and the generation still in the store.
fn gc_root(st: &state::State, g: &state::GenRecord, user: Option<&str>) -> Check {
    let topic = format!("gc root {}", g.number);
    let root = st.gc_root(g.number);
    let gen = crate::report::escape_path(&g.path);
    let root_shown = crate::report::escape_path(&root);
    if !g.path.exists() {
        return check(
            Level::Fail,
            topic,
            format!("generation {} ({gen}) is no longer in the store", g.number),
        )
        .hint(format!(
            "it cannot be rolled back to; `hearth remove-generations {}` forgets it",
            g.number
        ));
    }
    let remake = format!("`nix-store --add-root {root_shown} --indirect --realise {gen}` makes it again (or `hearth remove-generations {}` forgets the generation)", g.number);
    match std::fs::read_link(&root) {
        Err(_) => {
            return check(
                Level::Fail,
                topic,
                format!(
                    "{root_shown} is missing: Nix may collect generation {} ({gen})",
                    g.number
                ),
            )
            .hint(remake)
        }
        Ok(t) if t != g.path => {
            return check(
                Level::Fail,
                topic,
                format!(
                    "{root_shown} points at {}, not at generation {} ({gen})",
                    crate::report::escape_path(&t),
                    g.number
                ),
            )
            .hint(remake)
        }
        Ok(_) => {}
    }
    let per_user = user.map(|u| nixtools::per_user_link(&root, u));
    let registered = per_user
        .as_ref()
        .is_some_and(|l| std::fs::read_link(l).is_ok_and(|t| t == root))
        || std::fs::read_dir(nixtools::state_dir().join("gcroots/auto"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == root));
    if registered {
        check(Level::Ok, topic, format!("{root_shown} -> {gen}"))
    } else {
        check(
            Level::Fail,
            topic,
            format!("{root_shown} -> {gen}, but Nix's GC-roots directories do not link to it: Nix may collect the generation"),
        )
        .hint(remake)
    }
}

/// The packages environment the current generation installs through
/// hearth's profile (`None`: none, or the system installs it).
fn profile_env(st: &state::State, data: &state::Data) -> Option<PathBuf> {
    data.current_record()
        .and_then(|r| packages::generation_packages(&r, &st.dir))
        .and_then(packages::Env::profile)
}

/// The current generation's packages, on PATH through the profile.
fn packages_on_path(
    home: &Path,
    st: &state::State,
    data: &state::Data,
    cur: &state::Applied,
    setup: &Setup,
) -> Check {
    let Some(env) = profile_env(st, data) else {
        return check(
            Level::Ok,
            "packages",
            format!(
                "generation {} names no packages environment (none, or the system installs them)",
                cur.number
            ),
        );
    };
    let profile = roots::profile(&st.dir, home);
    let bin = profile.join("bin");
    let on_path = setup.path.as_ref().is_some_and(|p| {
        std::env::split_paths(p).any(|d| {
            d == bin
                || (d.canonicalize().ok().is_some()
                    && d.canonicalize().ok() == bin.canonicalize().ok())
        })
    });
    let shown = crate::report::escape_path(&bin);
    if on_path {
        check(
            Level::Ok,
            "packages",
            format!("{shown} is on PATH ({})", crate::report::escape_path(&env)),
        )
    } else {
        check(
            Level::Fail,
            "packages",
            format!("{shown} is not on PATH: the home's packages cannot be run by name"),
        )
        .hint(format!(
            "have your login shell source {} (`hearth init --yes` adds the line), then log in again",
            crate::report::escape_path(&profile.join("etc/profile.d/hearth.sh"))
        ))
    }
}

/// The generation's session variables, sourced into this environment.
fn session_vars(
    home: &Path,
    st: &state::State,
    data: &state::Data,
    cur: &state::Applied,
    setup: &Setup,
) -> Check {
    if !cur.generation.join(SESSION_VARS).exists() {
        return check(
            Level::Ok,
            "session",
            format!("generation {} has no session variables", cur.number),
        );
    }
    if setup.hearth_vars {
        return check(
            Level::Ok,
            "session",
            "hearth's session variables are sourced (__HEARTH_SESS_VARS_SOURCED is set)",
        );
    }
    let c = if setup.hm_vars {
        check(
            Level::Warn,
            "session",
            "Home Manager's session variables are sourced (__HM_SESS_VARS_SOURCED), but not hearth's",
        )
    } else {
        check(
            Level::Warn,
            "session",
            "hearth's session variables are not sourced in this environment (__HEARTH_SESS_VARS_SOURCED is not set)",
        )
    };
    // Without a packages environment the system installs the home (NixOS,
    // nix-darwin): its login shells source the variables, and there is no
    // profile of hearth's to point at.
    if profile_env(st, data).is_none() {
        return c.hint(format!(
            "on NixOS and nix-darwin, login shells source {} (hearth's module); log in again after a switch. A shell that is not a login shell (`su` without `-`, `sudo -u`, cron) does not read them",
            crate::report::escape_path(&cur.generation.join(SESSION_VARS))
        ));
    }
    let script = roots::profile(&st.dir, home).join("etc/profile.d/hearth.sh");
    if let Some(file) = sourcing_file(home) {
        return check(
            Level::Warn,
            "session",
            format!(
                "hearth's session variables are not sourced in this environment, though ~/{file} sources them"
            ),
        )
        .hint(format!(
            "log in again: a login shell reads ~/{file} (this shell started before the line was added, or is not a login shell; `bash -l` is one)"
        ));
    }
    check(
        Level::Warn,
        "session",
        format!(
            "{}, and no shell file in the home sources them (looked in ~/{})",
            c.found,
            SHELL_FILES.join(", ~/")
        ),
    )
    .hint(format!(
        "have your login shell source {} (`hearth init --yes` adds the line), then log in again",
        crate::report::escape_path(&script)
    ))
}

/// The files of a home a shell reads at login (or, for zsh and bash, at
/// every start) where a line may source hearth's session variables.
const SHELL_FILES: [&str; 9] = [
    ".profile",
    ".bash_profile",
    ".bash_login",
    ".bashrc",
    ".zprofile",
    ".zshenv",
    ".zshrc",
    ".config/fish/conf.d/hearth.fish",
    ".config/fish/config.fish",
];

/// The first of `SHELL_FILES` with a line, not a comment, that sources
/// hearth's profile hook or a hearth profile's hm-session-vars.sh (as
/// `hearth init` adds, or as one writes by hand).
fn sourcing_file(home: &Path) -> Option<&'static str> {
    SHELL_FILES.into_iter().find(|rel| {
        std::fs::read_to_string(home.join(rel)).is_ok_and(|text| {
            text.lines().any(|l| {
                let l = l.trim_start();
                !l.starts_with('#')
                    && l.contains("hearth")
                    && (l.contains("profile.d/hearth.") || l.contains(SESSION_VARS))
            })
        })
    })
}

/// The journal: none pending, a committed one whose cleanup is left to the
/// next run, or an activation that did not finish.
fn journal(st: &state::State, data: &state::Data) -> Check {
    use crate::home::journal::Peeked;
    let shown = crate::report::escape_path(&st.journal_path());
    match st.peek_journal() {
        Ok(Peeked::Nothing) => check(
            Level::Ok,
            "journal",
            "no activation was left unfinished",
        ),
        Ok(Peeked::Pending(j)) if data.current.as_ref().is_some_and(|c| c.txid == j.txid) => {
            check(
                Level::Ok,
                "journal",
                "the last activation is committed; the next run clears its journal",
            )
        }
        Ok(Peeked::Writing) => check(
            Level::Warn,
            "journal",
            format!("{shown} was cut short while being written; the home was not touched"),
        )
        .hint("the next hearth run (`hearth status` will do) discards it"),
        Ok(Peeked::Pending(j)) => check(
            Level::Fail,
            "journal",
            format!(
                "{shown} records an activation of {} that did not finish (killed, or still running)",
                crate::report::escape_path(&j.generation)
            ),
        )
        .hint("unless a hearth run is going on now, run `hearth status`: it completes or reverts that activation first"),
        Err(e) => {
            let text = e.to_string();
            let (found, hint) = text.split_once("\nhint: ").unwrap_or((&text, ""));
            let c = check(Level::Fail, "journal", found.replace('\n', "; "));
            if hint.is_empty() {
                c
            } else {
                c.hint(hint.replace('\n', "; "))
            }
        }
    }
}
