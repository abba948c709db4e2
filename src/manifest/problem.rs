//! What manifest validation finds wrong, as values: where ([`Field`], a JSON
//! path) and what ([`What`]). Problems sort into manifest order by their
//! field, never by their text; each renders once, as `JSON path: message`.
//! Nothing here reads anything: the checks that look at the store live in
//! `manifest::validate`.

use std::fmt;
use std::path::PathBuf;

use crate::manifest::targets::BadTarget;
use crate::manifest::RelPath;

/// A field of the manifest. The order of the variants is the order of the
/// manifest (`user` … `files` … `activation`), so deriving `Ord` sorts
/// problems the way a reader goes through the file: `files[2]` before
/// `files[10]`, an entry's target before its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    User,
    Home,
    BackupExtension,
    Packages,
    SystemPackages,
    File(usize, FileField),
    Step(usize, StepField),
}

/// A field of one `files` entry, in the order an entry is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileField {
    Target,
    Source,
    Mode,
    OnChange,
}

/// A field of one `activation` step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepField {
    Name,
    Script,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::User => f.write_str("user"),
            Field::Home => f.write_str("home"),
            Field::BackupExtension => f.write_str("backupExtension"),
            Field::Packages => f.write_str("packages"),
            Field::SystemPackages => f.write_str("systemPackages"),
            Field::File(i, field) => {
                let name = match field {
                    FileField::Target => "target",
                    FileField::Source => "source",
                    FileField::Mode => "mode",
                    FileField::OnChange => "onChange",
                };
                write!(f, "files[{i}].{name}")
            }
            Field::Step(i, field) => {
                let name = match field {
                    StepField::Name => "name",
                    StepField::Script => "script",
                };
                write!(f, "activation[{i}].{name}")
            }
        }
    }
}

/// One problem of a manifest: where, and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub at: Field,
    pub what: What,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.what)
    }
}

/// Sorts problems into manifest order. Stable: problems of one field keep
/// the order they were found in.
pub fn sort(problems: &mut [Problem]) {
    problems.sort_by_key(|p| p.at);
}

/// What is wrong with a field, said so that the user knows what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum What {
    #[error("the user name is empty")]
    EmptyUser,
    #[error("{:?} is not an absolute path", .0.display().to_string())]
    NotAbsolute(PathBuf),
    #[error("{:?} is not an absolute store path", .0.display().to_string())]
    PackagesNotAbsolute(PathBuf),
    #[error("{} does not exist", .0.display())]
    PackagesMissing(PathBuf),
    #[error("set together with `packages`; a generation's packages are installed either by hearth (`packages`) or by the system (`systemPackages`), never by both: set one of them to null")]
    BothPackages,
    #[error(transparent)]
    BackupExtension(#[from] BadBackupExt),
    #[error("{raw:?}: {why}")]
    Target { raw: String, why: BadTarget },
    #[error("{target} is also the target of files[{first}]; each target may appear once")]
    Duplicate { target: RelPath, first: usize },
    #[error("{target} lies inside {outer}, the target of files[{outer_index}]; a path cannot be both a file and a directory")]
    Inside {
        target: RelPath,
        outer: RelPath,
        outer_index: usize,
    },
    #[error("{} does not exist; rebuild the generation (its sources may have been garbage-collected)", .0.display())]
    SourceMissing(PathBuf),
    #[error("{} is not a regular file; a \"copy\" entry copies one file (set type to \"symlink\" to link a directory)", .0.display())]
    CopyOfNonFile(PathBuf),
    #[error(transparent)]
    Mode(#[from] BadMode),
    #[error("a mode applies only to \"copy\" entries (a symlink has no mode of its own); set type to \"copy\" or mode to null")]
    ModeOnSymlink,
    #[error(transparent)]
    Program(#[from] BadProgram),
    #[error("the step name is empty")]
    EmptyStepName,
    #[error("{0:?} is used by an earlier step; names must be unique")]
    StepNameReused(String),
}

/// A backup extension that would not make a sibling name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a usable backup extension; use a plain word such as \"bak\"")]
pub struct BadBackupExt(pub String);

/// A mode string hearth does not accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadMode {
    #[error("{0:?} is not an octal mode; write it like \"0644\" or \"0755\"")]
    NotOctal(String),
    #[error("{0:?} sets setuid, setgid or sticky bits, which hearth never creates; use a mode up to \"0777\"")]
    SpecialBits(String),
}

/// Why a program (`onChange`, an activation step) cannot be run. `shown` is
/// the path as `report` escapes it for a terminal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadProgram {
    #[error("{shown} does not exist")]
    Missing { shown: String },
    #[error("{shown} cannot be examined: {error}")]
    Unreadable { shown: String, error: String },
    #[error("{shown} is {kind}, not a program hearth can run; give an executable file")]
    NotAFile { shown: String, kind: &'static str },
    #[error("{shown} is not executable (mode {mode:04o}); give an executable file")]
    NotExecutable { shown: String, mode: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(at: Field, what: What) -> Problem {
        Problem { at, what }
    }

    #[test]
    fn fields_render_as_json_paths() {
        let shown: Vec<String> = [
            Field::User,
            Field::Home,
            Field::BackupExtension,
            Field::Packages,
            Field::File(3, FileField::Target),
            Field::File(3, FileField::OnChange),
            Field::Step(0, StepField::Script),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            shown,
            [
                "user",
                "home",
                "backupExtension",
                "packages",
                "files[3].target",
                "files[3].onChange",
                "activation[0].script"
            ]
        );
    }

    #[test]
    fn problems_sort_into_manifest_order_by_number_not_text() {
        let mut problems = vec![
            p(Field::Step(0, StepField::Name), What::EmptyStepName),
            p(Field::File(10, FileField::Mode), What::ModeOnSymlink),
            p(
                Field::File(2, FileField::Source),
                What::SourceMissing("/nix/store/x".into()),
            ),
            p(
                Field::File(2, FileField::Target),
                What::Target {
                    raw: "/abs".into(),
                    why: BadTarget::Absolute,
                },
            ),
            p(
                Field::Packages,
                What::PackagesMissing("/nix/store/p".into()),
            ),
            p(
                Field::File(10, FileField::Mode),
                What::Mode(BadMode::NotOctal("9".into())),
            ),
            p(Field::User, What::EmptyUser),
        ];
        sort(&mut problems);
        let at: Vec<String> = problems.iter().map(|p| p.at.to_string()).collect();
        assert_eq!(
            at,
            [
                "user",
                "packages",
                "files[2].target",
                "files[2].source",
                "files[10].mode",
                "files[10].mode",
                "activation[0].name"
            ]
        );
        // Within one field, the order in which they were found.
        assert_eq!(problems[4].what, What::ModeOnSymlink);
    }

    #[test]
    fn problems_render_once_with_their_path() {
        let rel = |s| RelPath::parse(s).unwrap();
        assert_eq!(
            p(
                Field::File(1, FileField::Target),
                What::Inside {
                    target: rel(".config/app/x"),
                    outer: rel(".config/app"),
                    outer_index: 0
                }
            )
            .to_string(),
            "files[1].target: .config/app/x lies inside .config/app, the target of files[0]; a path cannot be both a file and a directory"
        );
        assert_eq!(
            p(
                Field::File(0, FileField::Target),
                What::Target {
                    raw: "./".into(),
                    why: BadTarget::TheHome
                }
            )
            .to_string(),
            "files[0].target: \"./\": the target names the home itself"
        );
        assert_eq!(
            p(
                Field::Step(2, StepField::Script),
                What::Program(BadProgram::NotExecutable {
                    shown: "/nix/store/s".into(),
                    mode: 0o644
                })
            )
            .to_string(),
            "activation[2].script: /nix/store/s is not executable (mode 0644); give an executable file"
        );
    }

    // Every message a manifest problem can show, pinned in one place.
    #[test]
    fn every_message() {
        let rel = |s| RelPath::parse(s).unwrap();
        let file = |i, field| Field::File(i, field);
        let shown = "/nix/store/aaaa-hook".to_string();
        let mut problems = vec![
            p(Field::User, What::EmptyUser),
            p(Field::Home, What::NotAbsolute("home/alice".into())),
            p(Field::BackupExtension, BadBackupExt("a/b".into()).into()),
            p(Field::Packages, What::PackagesNotAbsolute("env".into())),
            p(
                Field::Packages,
                What::PackagesMissing("/nix/store/aaaa-env".into()),
            ),
            p(
                file(7, FileField::Source),
                What::CopyOfNonFile("/nix/store/aaaa-dir".into()),
            ),
            p(
                file(8, FileField::Source),
                What::SourceMissing("/nix/store/aaaa-gone".into()),
            ),
            p(
                file(9, FileField::Mode),
                BadMode::NotOctal("0999".into()).into(),
            ),
            p(
                file(9, FileField::Mode),
                BadMode::SpecialBits("4755".into()).into(),
            ),
            p(file(9, FileField::Mode), What::ModeOnSymlink),
            p(
                file(9, FileField::OnChange),
                BadProgram::Missing {
                    shown: shown.clone(),
                }
                .into(),
            ),
            p(
                file(9, FileField::OnChange),
                BadProgram::Unreadable {
                    shown: shown.clone(),
                    error: "Permission denied (os error 13)".into(),
                }
                .into(),
            ),
            p(
                file(9, FileField::OnChange),
                BadProgram::NotAFile {
                    shown: shown.clone(),
                    kind: "a directory",
                }
                .into(),
            ),
            p(
                file(9, FileField::OnChange),
                BadProgram::NotExecutable { shown, mode: 0o644 }.into(),
            ),
            p(Field::Step(0, StepField::Name), What::EmptyStepName),
            p(
                Field::Step(1, StepField::Name),
                What::StepNameReused("linkGeneration".into()),
            ),
            p(
                Field::Step(1, StepField::Script),
                What::NotAbsolute("steps/1".into()),
            ),
        ];
        for (i, why) in [
            BadTarget::Empty,
            BadTarget::Nul,
            BadTarget::Absolute,
            BadTarget::DotDot,
            BadTarget::TheHome,
        ]
        .into_iter()
        .enumerate()
        {
            let raw = ["", "a\0b", "/etc/motd", "../x", "."][i].to_string();
            problems.push(p(file(i, FileField::Target), What::Target { raw, why }));
        }
        problems.push(p(
            file(5, FileField::Target),
            What::Duplicate {
                target: rel(".vimrc"),
                first: 4,
            },
        ));
        problems.push(p(
            file(6, FileField::Target),
            What::Inside {
                target: rel(".config/app/x"),
                outer: rel(".config/app"),
                outer_index: 2,
            },
        ));
        sort(&mut problems);
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(text.join("\n"));
    }
}
