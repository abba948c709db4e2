//! Finding the home to build and building it with Nix: `nix-build` of
//! hearth's `nix/standalone.nix` for a `home.nix`, `nix build` of a flake's
//! `hearthConfigurations.NAME` (or a hearth home under
//! `homeConfigurations.NAME`). Nix's stderr is the user's terminal's, so its
//! progress and its evaluation errors show exactly as Nix prints them; only
//! its stdout (the store path) is read. The result is kept alive by an
//! out-link until the caller has activated it (and made its own GC root).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Error;
use crate::sys::nixtools;

/// What Nix is given besides the home: `--option NAME VALUE`, `-I PATH`,
/// `--show-trace`, passed to every Nix command hearth runs for the build.
#[derive(Clone, Debug, Default)]
pub struct NixFlags {
    pub options: Vec<(String, String)>,
    pub include: Vec<String>,
    pub show_trace: bool,
    /// The Home Manager checkout a home.nix is evaluated with
    /// (`--home-manager`): a directory, or `<NAME>` looked up in Nix's
    /// search path as `nix-build` does. None: hearth's own home module.
    pub home_manager: Option<String>,
}

impl NixFlags {
    fn args(&self, show_trace: bool) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        for (name, value) in &self.options {
            args.extend(["--option".into(), name.into(), value.into()]);
        }
        for path in &self.include {
            args.extend(["-I".into(), path.into()]);
        }
        if show_trace && self.show_trace {
            args.push("--show-trace".into());
        }
        args
    }
}

/// Where the home's configuration is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A home.nix (a module), evaluated with `<nixpkgs>`.
    File(PathBuf),
    /// A flake's home `NAME`: `reference` as `nix build` takes it.
    Flake { reference: String, name: String },
}

impl Source {
    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Flake { reference, name } => format!("{reference}#{name}"),
        }
    }
}

/// The home to build: `--flake REF#NAME` (NAME defaults to the user, REF to
/// `.`), `-f FILE`, or `~/.config/hearth/home.nix`. A file must exist.
pub fn locate(
    file: Option<&Path>,
    flake: Option<&str>,
    user: &str,
    home: &Path,
) -> Result<Source, Error> {
    if let Some(given) = flake {
        let (reference, name) = given.split_once('#').unwrap_or((given, ""));
        let reference = if reference.is_empty() { "." } else { reference };
        let name = if name.is_empty() { user } else { name };
        return Ok(Source::Flake {
            reference: absolute_flake_ref(reference),
            name: name.to_string(),
        });
    }
    let path = match file {
        Some(p) => std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()),
        None => super::default_home_file(home),
    };
    if path.is_file() {
        Ok(Source::File(path))
    } else {
        Err(Error::NoHome { path })
    }
}

/// A flake reference that names a local directory (`.`, `./dir`, `/abs`,
/// `~/dir`), made absolute: `builtins.getFlake` takes only absolute ones,
/// and `nix build` then sees the same flake. Others (`github:...`,
/// `path:...`) stay as they are.
fn absolute_flake_ref(reference: &str) -> String {
    let local = reference.starts_with('.')
        || reference.starts_with('/')
        || reference.starts_with('~')
        || !reference.contains(':');
    if !local {
        return reference.to_string();
    }
    let expanded = match reference.strip_prefix('~') {
        Some(rest) => std::env::var_os("HOME").map_or_else(
            || PathBuf::from(reference),
            |h| PathBuf::from(h).join(rest.trim_start_matches('/')),
        ),
        None => PathBuf::from(reference),
    };
    std::fs::canonicalize(&expanded)
        .or_else(|_| std::path::absolute(&expanded))
        .map_or_else(|_| reference.to_string(), |p| p.display().to_string())
}

/// Where the build's result link goes.
pub enum OutLink {
    /// A private temporary directory, removed when the `Built` is dropped.
    Temporary,
    /// This path (`hearth build`'s `./result`).
    At(PathBuf),
    /// None: the result may be collected by Nix's GC at any time.
    Nothing,
}

/// A built generation, kept alive (for a temporary link) until dropped.
pub struct Built {
    pub path: PathBuf,
    temp: Option<PathBuf>,
}

impl Drop for Built {
    fn drop(&mut self) {
        if let Some(dir) = &self.temp {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Builds the home's generation for `user` and `home`.
pub fn build(
    source: &Source,
    flags: &NixFlags,
    user: &str,
    home: &Path,
    out: &OutLink,
) -> Result<Built, Error> {
    let temp = match out {
        OutLink::Temporary => Some(temp_dir()?),
        _ => None,
    };
    let link = match (out, &temp) {
        (OutLink::At(p), _) => Some(p.clone()),
        (OutLink::Temporary, Some(dir)) => Some(dir.join("result")),
        _ => None,
    };
    let mut built = Built {
        path: PathBuf::new(),
        temp,
    };
    built.path = match source {
        Source::File(file) => build_file(file, flags, user, home, link.as_deref())?,
        Source::Flake { reference, name } => build_flake(reference, name, flags, link.as_deref())?,
    };
    Ok(built)
}

fn temp_dir() -> Result<PathBuf, Error> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hearth-build-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).map_err(|source| Error::Io {
        what: "create",
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// hearth's Nix files: `$HEARTH_NIX_DIR`, else the package's
/// `share/hearth/nix` beside its `bin/`, else the source tree this binary
/// was built from (a development build).
pub fn nix_dir() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os("HEARTH_NIX_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.join("standalone.nix").is_file() {
            Ok(dir)
        } else {
            Err(Error::NixFilesMissing { tried: dir })
        };
    }
    let exe = std::env::current_exe().map_err(Error::CurrentExe)?;
    let installed = exe
        .parent()
        .and_then(Path::parent)
        .map(|prefix| prefix.join("share/hearth/nix"));
    if let Some(dir) = installed
        .as_ref()
        .filter(|d| d.join("standalone.nix").is_file())
    {
        return Ok(dir.clone());
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("nix");
    if source.join("standalone.nix").is_file() {
        return Ok(source);
    }
    Err(Error::NixFilesMissing {
        tried: installed.unwrap_or(source),
    })
}

/// How the evaluation gets the hearth that builds the generation: this
/// very binary. From the store, its package; otherwise the binary itself,
/// which the evaluation copies into the store.
fn hearth_args() -> Result<Vec<OsString>, Error> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(Error::CurrentExe)?;
    let package = exe
        .parent()
        .filter(|bin| bin.ends_with("bin"))
        .and_then(Path::parent)
        .filter(|pkg| pkg.parent() == Some(nixtools::store_dir().as_path()));
    Ok(match package {
        Some(pkg) => vec!["--argstr".into(), "hearthPackage".into(), pkg.into()],
        None => vec!["--argstr".into(), "hearthBin".into(), exe.into()],
    })
}

fn spawn_error(program: &str, source: io::Error) -> Error {
    if source.kind() == io::ErrorKind::NotFound {
        Error::NixMissing {
            program: program.to_string(),
        }
    } else {
        Error::Spawn {
            program: program.to_string(),
            source,
        }
    }
}

/// Runs a Nix command with stderr on the terminal; returns its stdout.
fn run_nix(program: &str, args: &[OsString], what: &str) -> Result<String, Error> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| spawn_error(program, e))?;
    if !out.status.success() {
        return Err(Error::BuildFailed {
            what: what.to_string(),
            status: out.status.to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn build_file(
    file: &Path,
    flags: &NixFlags,
    user: &str,
    home: &Path,
    link: Option<&Path>,
) -> Result<PathBuf, Error> {
    let nix = nix_dir()?;
    // Asked first, so that a missing nixpkgs is one clear message rather
    // than an evaluation error from inside hearth's files.
    let mut find: Vec<OsString> = vec!["--find-file".into(), "nixpkgs".into()];
    find.extend(flags.args(false));
    let found = Command::new("nix-instantiate")
        .args(&find)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| spawn_error("nix-instantiate", e))?;
    if !found.success() {
        return Err(Error::NoNixpkgs {
            detail: "`<nixpkgs>` was not found (NIX_PATH, -I)".into(),
        });
    }
    let home_manager = match &flags.home_manager {
        Some(given) => Some(home_manager_dir(given, flags)?),
        None => None,
    };
    let mut args: Vec<OsString> = vec![nix.join("standalone.nix").into()];
    if let Some(dir) = &home_manager {
        args.extend(["--argstr".into(), "homeManager".into(), dir.into()]);
    }
    for (name, value) in [
        ("home", file.as_os_str()),
        ("username", user.as_ref()),
        ("homeDirectory", home.as_os_str()),
    ] {
        args.extend(["--argstr".into(), name.into(), value.into()]);
    }
    args.extend(hearth_args()?);
    match link {
        Some(l) => args.extend(["--out-link".into(), l.into()]),
        None => args.push("--no-out-link".into()),
    }
    args.extend(flags.args(true));
    let what = file.display().to_string();
    let stdout = run_nix("nix-build", &args, &what)?;
    store_path(&stdout).ok_or_else(|| Error::NoOutput {
        program: "nix-build".into(),
        what,
        output: stdout.trim().to_string(),
    })
}

/// The Home Manager checkout `--home-manager` names: `<NAME>` looked up in
/// Nix's search path (`NIX_PATH`, -I, channels), anything else a directory.
/// Checked here, so that a wrong one is one clear message rather than an
/// evaluation error from inside hearth's files.
fn home_manager_dir(given: &str, flags: &NixFlags) -> Result<PathBuf, Error> {
    let dir = if let Some(name) = given.strip_prefix('<').and_then(|g| g.strip_suffix('>')) {
        let mut args: Vec<OsString> = vec!["--find-file".into(), name.into()];
        args.extend(flags.args(false));
        let out = Command::new("nix-instantiate")
            .args(&args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .stdout(Stdio::piped())
            .output()
            .map_err(|e| spawn_error("nix-instantiate", e))?;
        let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || found.is_empty() {
            return Err(Error::HomeManagerNotInSearchPath {
                name: name.to_string(),
            });
        }
        PathBuf::from(found)
    } else {
        std::path::absolute(given).unwrap_or_else(|_| PathBuf::from(given))
    };
    if dir.join("modules/modules.nix").is_file() {
        Ok(dir)
    } else {
        Err(Error::NotHomeManager {
            given: given.to_string(),
            path: dir,
        })
    }
}

/// The last line of a Nix command's stdout, when it is a store path.
fn store_path(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(PathBuf::from)
        .filter(|p| nixtools::in_store(p))
}

/// A string as a Nix string literal.
fn nix_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const FLAKES: [&str; 2] = ["--extra-experimental-features", "nix-command flakes"];

/// What the flake has under the name: the attribute to build, or why not.
#[derive(serde::Deserialize)]
struct Lookup {
    attr: Option<String>,
    #[serde(rename = "homeManager")]
    home_manager: bool,
    known: Vec<String>,
}

fn build_flake(
    reference: &str,
    name: &str,
    flags: &NixFlags,
    link: Option<&Path>,
) -> Result<PathBuf, Error> {
    let what = format!("{reference}#{name}");
    // Locks the flake (writing flake.lock as `nix build` would), so that
    // `builtins.getFlake` below, which never writes one, can read it.
    let mut args: Vec<OsString> = FLAKES.iter().map(Into::into).collect();
    args.extend(["flake".into(), "metadata".into(), "--json".into()]);
    args.extend(flags.args(true));
    args.push(reference.into());
    run_nix("nix", &args, &what)?;
    // hearthConfigurations.NAME first; homeConfigurations.NAME only when
    // it is a hearth home (hearth.lib.homeConfiguration marks them).
    let expr = format!(
        r#"let
  f = builtins.getFlake {flake};
  n = {name};
  hearth = f.hearthConfigurations or {{ }};
  hm = f.homeConfigurations or {{ }};
  isHearth = c: (builtins.tryEval (c.hearthHome or false)).value == true;
in
if hearth ? ${{n}} then {{ attr = "hearthConfigurations"; homeManager = false; known = [ ]; }}
else if hm ? ${{n}} then {{ attr = if isHearth hm.${{n}} then "homeConfigurations" else null; homeManager = !(isHearth hm.${{n}}); known = [ ]; }}
else {{ attr = null; homeManager = false; known = builtins.attrNames hearth ++ builtins.filter (k: isHearth hm.${{k}}) (builtins.attrNames hm); }}"#,
        flake = nix_string(reference),
        name = nix_string(name),
    );
    let mut args: Vec<OsString> = FLAKES.iter().map(Into::into).collect();
    args.extend(["eval".into(), "--json".into(), "--impure".into()]);
    args.extend(flags.args(true));
    args.extend(["--expr".into(), expr.into()]);
    let stdout = run_nix("nix", &args, &what)?;
    let lookup: Lookup = serde_json::from_str(stdout.trim()).map_err(|_| Error::NoOutput {
        program: "nix eval".into(),
        what: what.clone(),
        output: stdout.trim().to_string(),
    })?;
    let Some(attr) = lookup.attr else {
        return Err(if lookup.home_manager {
            Error::NotHearthHome {
                flake: reference.to_string(),
                name: name.to_string(),
            }
        } else {
            Error::NoSuchHome {
                flake: reference.to_string(),
                name: name.to_string(),
                known: lookup.known,
            }
        });
    };
    let installable = format!("{reference}#{attr}.{}.activationPackage", nix_string(name));
    let mut args: Vec<OsString> = FLAKES.iter().map(Into::into).collect();
    args.extend(["build".into(), "--json".into()]);
    match link {
        Some(l) => args.extend(["--out-link".into(), l.into()]),
        None => args.push("--no-link".into()),
    }
    args.extend(flags.args(true));
    args.push(installable.into());
    let stdout = run_nix("nix", &args, &what)?;
    let out = serde_json::from_str::<serde_json::Value>(stdout.trim())
        .ok()
        .and_then(|v| {
            v.get(0)
                .and_then(|b| b.pointer("/outputs/out"))
                .and_then(|p| p.as_str())
                .map(PathBuf::from)
        })
        .filter(|p| nixtools::in_store(p));
    out.ok_or_else(|| Error::NoOutput {
        program: "nix build".into(),
        what,
        output: stdout.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix_strings_escape_what_nix_would_read() {
        assert_eq!(nix_string("a\"b\\c${d}"), r#""a\"b\\c\${d}""#);
        assert_eq!(nix_string("x\ny"), r#""x\ny""#);
    }

    #[test]
    fn flake_names_default_to_the_user_and_refs_to_here() {
        let here = std::env::current_dir().unwrap().canonicalize().unwrap();
        let got = locate(None, Some("#bob"), "alice", Path::new("/h")).unwrap();
        assert_eq!(
            got,
            Source::Flake {
                reference: here.display().to_string(),
                name: "bob".into()
            }
        );
        let got = locate(None, Some("github:o/r"), "alice", Path::new("/h")).unwrap();
        assert_eq!(
            got,
            Source::Flake {
                reference: "github:o/r".into(),
                name: "alice".into()
            }
        );
    }

    #[test]
    fn store_paths_are_read_from_the_last_line() {
        let store = nixtools::store_dir();
        let p = store.join("abc-x");
        assert_eq!(
            store_path(&format!("noise\n{}\n\n", p.display())),
            Some(p.clone())
        );
        assert_eq!(store_path("/tmp/x\n"), None);
    }
}
