//! `hearth init`: a starting `home.nix` for the user, and (only when the
//! user agrees) the one line per login shell that makes it read the hearth
//! profile's `etc/profile.d/hearth.sh`. Never overwrites or rewrites a file
//! of the user's: a home.nix that exists is kept, a shell file only gets a
//! line appended, and only when it does not hold that line already.

use std::fs::OpenOptions;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::Error;

/// What a login shell's file gets: one line, which sources the profile's
/// hook when it is there (before the first `hearth switch` it is not, and
/// the line does nothing). `XDG_STATE_HOME` as hearth reads it.
pub const SH_LINE: &str = r#"if [ -r "${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles/hearth-packages/etc/profile.d/hearth.sh" ]; then . "${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles/hearth-packages/etc/profile.d/hearth.sh"; fi # hearth"#;

/// The same for fish (a file of its own in `conf.d`).
pub const FISH_LINE: &str = r"set -q XDG_STATE_HOME; and set -l __hearth_hook $XDG_STATE_HOME/nix/profiles/hearth-packages/etc/profile.d/hearth.fish; or set -l __hearth_hook $HOME/.local/state/nix/profiles/hearth-packages/etc/profile.d/hearth.fish; test -r $__hearth_hook; and source $__hearth_hook # hearth";

/// The starting home.nix for `user` with home `home`.
pub fn home_nix(user: &str, home: &Path) -> String {
    let quote = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            if matches!(c, '"' | '\\' | '$') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    };
    format!(
        r#"# Your home, applied by `hearth switch`. The options are Home Manager's
# (home.file, xdg.configFile, home.packages, home.sessionVariables, ...);
# hearth's documentation lists them (docs/options.md).
{{ config, lib, pkgs, ... }}:
{{
  home.username = {user};
  home.homeDirectory = {home};

  # Files in the home, linked from the Nix store.
  # home.file.".vimrc".text = "set number\n";
  # xdg.configFile."git/config".source = ./gitconfig;

  # Packages, in hearth's own profile (not ~/.nix-profile).
  # home.packages = [ pkgs.ripgrep ];

  # Set in every login shell (after the line `hearth init` adds to your
  # shell's profile).
  # home.sessionVariables.EDITOR = "vim";
}}
"#,
        user = quote(user),
        home = quote(&home.to_string_lossy()),
    )
}

/// What `init` did with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Done {
    Wrote(PathBuf),
    /// It was there already; left as it is.
    Kept(PathBuf),
    /// The hook line was appended to it (`created`: the file is new).
    Added {
        path: PathBuf,
        created: bool,
    },
    /// It already holds the hook line.
    Present(PathBuf),
    /// A file of that name, not hearth's, is there; nothing was written.
    Skipped(PathBuf),
}

/// Writes `home.nix` at `path` unless something is there.
pub fn write_home(path: &Path, user: &str, home: &Path) -> Result<Done, Error> {
    if path.symlink_metadata().is_ok() {
        return Ok(Done::Kept(path.to_path_buf()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: "create",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| Error::Io {
            what: "create",
            path: path.to_path_buf(),
            source,
        })?;
    f.write_all(home_nix(user, home).as_bytes())
        .map_err(|source| Error::Io {
            what: "write",
            path: path.to_path_buf(),
            source,
        })?;
    Ok(Done::Wrote(path.to_path_buf()))
}

/// The login shells hearth knows, with the file each reads at login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// The file that gets the line. bash reads the first of
    /// `~/.bash_profile`, `~/.bash_login` and `~/.profile` (and sh only the
    /// last): the first that exists, else ~/.profile, so that no file bash
    /// used to read is hidden by a new one.
    pub fn file(self, home: &Path) -> PathBuf {
        match self {
            Shell::Bash => [".bash_profile", ".bash_login", ".profile"]
                .iter()
                .map(|f| home.join(f))
                .find(|p| p.symlink_metadata().is_ok())
                .unwrap_or_else(|| home.join(".profile")),
            Shell::Zsh => std::env::var_os("ZDOTDIR")
                .map(PathBuf::from)
                .filter(|d| d.is_absolute())
                .unwrap_or_else(|| home.to_path_buf())
                .join(".zprofile"),
            Shell::Fish => super::config_dir(home).join("fish/conf.d/hearth.fish"),
        }
    }

    fn line(self) -> &'static str {
        match self {
            Shell::Bash | Shell::Zsh => SH_LINE,
            Shell::Fish => FISH_LINE,
        }
    }
}

/// The shells to set up: bash always (and sh through ~/.profile), zsh and
/// fish when they are installed or are the user's login shell.
pub fn shells(login_shell: Option<&str>) -> Vec<Shell> {
    let mut out = vec![Shell::Bash];
    for s in [Shell::Zsh, Shell::Fish] {
        let is_login = login_shell.is_some_and(|l| l.rsplit('/').next() == Some(s.name()));
        if is_login || on_path(s.name()) {
            out.push(s);
        }
    }
    out
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Appends the shell's line to its file, unless the file holds it. For
/// fish the file is hearth's own; one that exists with other content is
/// someone else's and is left alone.
pub fn add_hook(shell: Shell, home: &Path) -> Result<Done, Error> {
    let path = shell.file(home);
    let line = shell.line();
    let mut old = String::new();
    let exists = match std::fs::File::open(&path) {
        Ok(mut f) => {
            f.read_to_string(&mut old).map_err(|source| Error::Io {
                what: "read",
                path: path.clone(),
                source,
            })?;
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(source) => {
            return Err(Error::Io {
                what: "read",
                path,
                source,
            })
        }
    };
    if old.lines().any(|l| l.trim() == line) {
        return Ok(Done::Present(path));
    }
    if shell == Shell::Fish && exists && !old.trim().is_empty() {
        return Ok(Done::Skipped(path));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: "create",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut text = String::new();
    if !old.is_empty() && !old.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| Error::Io {
            what: "append to",
            path: path.clone(),
            source,
        })?;
    Ok(Done::Added {
        path,
        created: !exists,
    })
}

/// Asks on stderr, reads a line from stdin: yes only for "y" or "yes".
/// End of input is no.
pub fn ask(question: &str) -> Result<bool, Error> {
    crate::report::err(question);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(Error::Prompt)?;
    let answer = answer.trim().to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_nix_quotes_the_user_and_home() {
        let text = home_nix("al\"ice", Path::new("/home/$x"));
        assert!(text.contains(r#"home.username = "al\"ice";"#), "{text}");
        assert!(
            text.contains(r#"home.homeDirectory = "/home/\$x";"#),
            "{text}"
        );
    }

    #[test]
    fn the_hook_is_added_once_and_nothing_is_rewritten() {
        let dir = std::env::temp_dir().join(format!("hearth-init-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".bash_profile"), "export A=1").unwrap();
        let got = add_hook(Shell::Bash, &dir).unwrap();
        assert_eq!(
            got,
            Done::Added {
                path: dir.join(".bash_profile"),
                created: false
            }
        );
        assert_eq!(
            add_hook(Shell::Bash, &dir).unwrap(),
            Done::Present(dir.join(".bash_profile"))
        );
        let text = std::fs::read_to_string(dir.join(".bash_profile")).unwrap();
        assert_eq!(text, format!("export A=1\n{SH_LINE}\n"));
        assert!(!dir.join(".profile").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
