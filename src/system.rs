//! A system's hearth homes: `etc/hearth/homes.json`, which the NixOS and
//! nix-darwin modules publish in the system toplevel, read and validated
//! (once, here) for `hearth plan --system`. Reads one file; never runs
//! anything and never looks at a home.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::exit::ExitCode;
use crate::sys::nixtools;

/// Where a system toplevel holds the file.
pub const HOMES_JSON: &str = "etc/hearth/homes.json";

/// The format version this hearth reads.
pub const VERSION: u64 = 1;

/// More than any system has; the file is read whole.
const MAX_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file} does not exist: {given} is not a system toplevel, or its system has no hearth homes (no hearth.users)\nhint: pass a built system (./result of `nixos-rebuild build` or `darwin-rebuild build`, or /run/current-system), or its etc/hearth/homes.json")]
    Missing { file: PathBuf, given: PathBuf },
    #[error("cannot read {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file} is {what}, not a regular file\nhint: pass a system toplevel or its etc/hearth/homes.json")]
    NotAFile { file: PathBuf, what: &'static str },
    #[error("{file} is {size} bytes, more than the {} MiB a homes.json may have", MAX_BYTES >> 20)]
    TooLarge { file: PathBuf, size: u64 },
    #[error("{file}: version {found} is newer than this hearth reads (version {VERSION})\nhint: run the hearth of that system ({})", sw_hearth(file))]
    Newer { file: PathBuf, found: u64 },
    #[error("{file}: {json_path}: {message}\nhint: the system's hearth module writes this file; rebuild the system rather than editing it")]
    Parse {
        file: PathBuf,
        json_path: String,
        message: String,
    },
    #[error("{file}: {json_path}: {message}")]
    Invalid {
        file: PathBuf,
        json_path: String,
        message: String,
    },
}

impl Error {
    /// A file that cannot be read is the system's problem; one that says
    /// something wrong is invalid input.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Read { .. } => ExitCode::Error,
            _ => ExitCode::InvalidInput,
        }
    }
}

/// The hearth a system toplevel ships, for the hint on a newer file.
fn sw_hearth(file: &Path) -> String {
    match file.ancestors().nth(3) {
        Some(top) if file.ends_with(HOMES_JSON) => top.join("sw/bin/hearth").display().to_string(),
        _ => "its sw/bin/hearth".into(),
    }
}

/// The file as the modules write it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    version: u64,
    homes: Vec<RawHome>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHome {
    user: String,
    home: PathBuf,
    generation: PathBuf,
    timeout: u64,
}

/// One user's home on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub user: String,
    pub home: PathBuf,
    /// A store path (checked again, resolved, before anything runs for it).
    pub generation: PathBuf,
    /// `hearth.activationTimeout`: how long the user's run may take.
    pub timeout: Duration,
}

/// The homes of a system, in the file's order.
#[derive(Debug)]
pub struct Homes {
    /// The file read.
    pub file: PathBuf,
    pub homes: Vec<Home>,
}

/// The file `given` names: `given/etc/hearth/homes.json` for a directory
/// (a system toplevel, through a `result` link or not), else `given`.
pub fn file_for(given: &Path) -> PathBuf {
    if given.is_dir() {
        given.join(HOMES_JSON)
    } else {
        given.to_path_buf()
    }
}

/// Reads and validates the homes of the system `given`.
pub fn load(given: &Path) -> Result<Homes, Error> {
    let file = file_for(given);
    let meta = std::fs::metadata(&file).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::Missing {
                file: file.clone(),
                given: given.to_path_buf(),
            }
        } else {
            Error::Read {
                file: file.clone(),
                source,
            }
        }
    })?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "a special file"
        };
        return Err(Error::NotAFile { file, what });
    }
    if meta.len() > MAX_BYTES {
        return Err(Error::TooLarge {
            file,
            size: meta.len(),
        });
    }
    let bytes = std::fs::read(&file).map_err(|source| Error::Read {
        file: file.clone(),
        source,
    })?;
    let homes = parse(&bytes, &file)?;
    Ok(Homes { file, homes })
}

/// Parses the file's bytes strictly, then checks what serde cannot.
pub fn parse(bytes: &[u8], file: &Path) -> Result<Vec<Home>, Error> {
    let parse_err = |json_path: String, message: String| Error::Parse {
        file: file.to_path_buf(),
        json_path,
        message,
    };
    // The version first, so that a newer file is refused by name rather
    // than for a field it added.
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(bytes) {
        match map.get("version").map(serde_json::Value::as_u64) {
            Some(Some(VERSION)) => {}
            Some(Some(found)) if found > VERSION => {
                return Err(Error::Newer {
                    file: file.to_path_buf(),
                    found,
                });
            }
            Some(_) => {
                return Err(parse_err(
                    "version".into(),
                    format!("unsupported version; this hearth reads version {VERSION}"),
                ))
            }
            None => {
                return Err(parse_err(
                    "version".into(),
                    format!("missing field `version` (expected {VERSION})"),
                ))
            }
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let raw: Raw = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        // "?" when the document ended before anything was read.
        let path = if path == "." || path == "?" {
            "(top level)".to_string()
        } else {
            path
        };
        parse_err(path, e.into_inner().to_string())
    })?;
    if raw.version != VERSION {
        // The first pass above reads the version of any JSON object; this
        // is only reached for a document it could not read.
        return Err(parse_err(
            "version".into(),
            format!("unsupported version; this hearth reads version {VERSION}"),
        ));
    }
    check(raw.homes, file)
}

fn check(raw: Vec<RawHome>, file: &Path) -> Result<Vec<Home>, Error> {
    let store = nixtools::store_dir();
    let mut users = BTreeSet::new();
    let mut homes = Vec::with_capacity(raw.len());
    for (i, h) in raw.into_iter().enumerate() {
        let bad = |field: &str, message: String| Error::Invalid {
            file: file.to_path_buf(),
            json_path: format!("homes[{i}].{field}"),
            message,
        };
        let valid_name = !h.user.is_empty()
            && !h.user.starts_with('-')
            && !h.user.chars().any(|c| c == '/' || c.is_control());
        if !valid_name {
            return Err(bad("user", format!("{:?} is not a user name", h.user)));
        }
        if !users.insert(h.user.clone()) {
            return Err(bad(
                "user",
                format!(
                    "{} has a home earlier in the file; a user has one home",
                    h.user
                ),
            ));
        }
        if !h.home.is_absolute() {
            return Err(bad(
                "home",
                format!("{} is not an absolute path", h.home.display()),
            ));
        }
        let in_store = h.generation.is_absolute()
            && h.generation.starts_with(&store)
            && h.generation != store
            && !h
                .generation
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if !in_store {
            return Err(bad(
                "generation",
                format!(
                    "{} is not in the Nix store ({}); hearth plans only generations built by Nix",
                    h.generation.display(),
                    store.display()
                ),
            ));
        }
        if h.timeout == 0 {
            return Err(bad(
                "timeout",
                "0 seconds; a user's run needs at least 1 second (hearth.activationTimeout)".into(),
            ));
        }
        homes.push(Home {
            user: h.user,
            home: h.home,
            generation: h.generation,
            timeout: Duration::from_secs(h.timeout),
        });
    }
    Ok(homes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<Home>, String> {
        parse(text.as_bytes(), Path::new("/sys/etc/hearth/homes.json")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_file() {
        let homes = parse_str(
            r#"{"version":1,"homes":[
                {"user":"alice","home":"/home/alice","generation":"/nix/store/aaa-hearth-generation-alice","timeout":300},
                {"user":"bob","home":"/home/bob","generation":"/nix/store/bbb-hearth-generation-bob","timeout":60}]}"#,
        )
        .unwrap();
        assert_eq!(homes.len(), 2);
        assert_eq!(homes[0].user, "alice");
        assert_eq!(homes[1].timeout, Duration::from_secs(60));
        assert!(parse_str(r#"{"version":1,"homes":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn bad_files_say_where() {
        let home = |user: &str, gen: &str, timeout: u64| {
            format!(
                r#"{{"user":"{user}","home":"/home/{user}","generation":"{gen}","timeout":{timeout}}}"#
            )
        };
        let good = home("alice", "/nix/store/aaa-g", 300);
        let cases = [
            ("not json", "{".to_string()),
            ("newer", r#"{"version":2,"homes":[],"more":1}"#.to_string()),
            ("no version", r#"{"homes":[]}"#.to_string()),
            ("unknown field", format!(r#"{{"version":1,"homes":[{good}],"x":1}}"#)),
            (
                "wrong type",
                r#"{"version":1,"homes":[{"user":"a","home":"/h","generation":"/nix/store/x","timeout":"5m"}]}"#.to_string(),
            ),
            (
                "outside the store",
                format!(r#"{{"version":1,"homes":[{good},{}]}}"#, home("bob", "/tmp/gen", 300)),
            ),
            (
                "dotdot",
                format!(r#"{{"version":1,"homes":[{}]}}"#, home("bob", "/nix/store/../etc", 300)),
            ),
            (
                "twice",
                format!(r#"{{"version":1,"homes":[{good},{good}]}}"#),
            ),
            (
                "zero timeout",
                format!(r#"{{"version":1,"homes":[{}]}}"#, home("bob", "/nix/store/b", 0)),
            ),
            (
                "relative home",
                r#"{"version":1,"homes":[{"user":"a","home":"h","generation":"/nix/store/x","timeout":5}]}"#.to_string(),
            ),
        ];
        let text: Vec<String> = cases
            .iter()
            .map(|(what, json)| format!("{what}:\n{}", parse_str(json).unwrap_err()))
            .collect();
        insta::assert_snapshot!(text.join("\n\n"));
    }
}
