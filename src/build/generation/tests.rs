//! The layout decision on specs and source facts made by hand: no disk.

use super::*;

fn spec(files: Vec<SpecFile>) -> Spec {
    Spec {
        user: "alice".into(),
        home: "/home/alice".into(),
        backup_extension: None,
        shell: "/bin/sh".into(),
        hearth: None,
        files,
        packages: None,
        system_packages: None,
        activation: Vec::new(),
        session_variables: IndexMap::new(),
        session_path: Vec::new(),
    }
}

fn file(target: &str, source: &str, who: &str) -> SpecFile {
    SpecFile {
        target: target.into(),
        source: source.into(),
        kind: FileType::Symlink,
        executable: None,
        recursive: false,
        mode: None,
        force: false,
        on_change: None,
        defined_by: Some(who.into()),
    }
}

const OUT: &str = "/nix/store/gen";

fn run(spec: &Spec, sources: &[SourceInfo]) -> Result<Layout, Vec<String>> {
    typed(spec, sources).map_err(|problems| problems.iter().map(ToString::to_string).collect())
}

fn typed(spec: &Spec, sources: &[SourceInfo]) -> Result<Layout, Vec<Problem>> {
    layout(spec, sources, Path::new(OUT), Path::new("/bin/hearth"))
}

fn targets(l: &Layout) -> Vec<(String, String)> {
    l.manifest
        .files
        .iter()
        .map(|f| (f.target.to_string(), f.source.display().to_string()))
        .collect()
}

const PLAIN: SourceInfo = SourceInfo::File { executable: false };

#[test]
fn recursive_sources_become_one_entry_per_file() {
    let mut f = file(".config/nvim", "/s/nvim", "home.file.nvim");
    f.recursive = true;
    let info = SourceInfo::Dir {
        files: vec![
            DirFile {
                rel: "init.lua".into(),
                executable: Some(false),
            },
            DirFile {
                rel: "lua/a.lua".into(),
                executable: Some(false),
            },
            DirFile {
                rel: "link".into(),
                executable: None,
            },
        ],
    };
    let l = run(&spec(vec![f]), &[info]).unwrap();
    assert_eq!(
        targets(&l),
        [
            (".config/nvim/init.lua".into(), "/s/nvim/init.lua".into()),
            (".config/nvim/lua/a.lua".into(), "/s/nvim/lua/a.lua".into()),
            (".config/nvim/link".into(), "/s/nvim/link".into()),
        ]
    );
}

#[test]
fn a_differing_executable_bit_makes_a_copy_in_the_generation() {
    let mut x = file("bin/x", "/s/x", "home.file.x");
    x.executable = Some(true);
    let mut same = file("bin/y", "/s/y", "home.file.y");
    same.executable = Some(false);
    let mut off = file("bin/z", "/s/z", "home.file.z");
    off.executable = Some(false);
    let l = run(
        &spec(vec![x, same, off]),
        &[PLAIN, PLAIN, SourceInfo::File { executable: true }],
    )
    .unwrap();
    assert_eq!(
        targets(&l),
        [
            ("bin/x".into(), "/nix/store/gen/files/0".into()),
            ("bin/y".into(), "/s/y".into()),
            ("bin/z".into(), "/nix/store/gen/files/2".into()),
        ]
    );
    assert_eq!(
        l.copies,
        [
            CopyFile {
                from: "/s/x".into(),
                to: "files/0".into(),
                mode: 0o555
            },
            CopyFile {
                from: "/s/z".into(),
                to: "files/2".into(),
                mode: 0o444
            },
        ]
    );
}

#[test]
fn clashes_name_both_definitions() {
    let mut r = file(".config", "/s/cfg", "xdg.configFile.\"all\"");
    r.recursive = true;
    let files = vec![
        file(".vimrc", "/s/a", "home.file.\"a\""),
        file("/home/alice/.vimrc", "/s/b", "home.file.\"b\""),
        file(
            ".config/git/config",
            "/s/c",
            "xdg.configFile.\"git/config\"",
        ),
        r,
        file("/etc/passwd", "/s/d", "home.file.\"d\""),
        file("../x", "/s/e", "home.file.\"e\""),
    ];
    let sources = [
        PLAIN,
        PLAIN,
        PLAIN,
        SourceInfo::Dir {
            files: vec![DirFile {
                rel: "git".into(),
                executable: Some(false),
            }],
        },
        PLAIN,
        PLAIN,
    ];
    let problems = run(&spec(files), &sources).unwrap_err();
    assert_eq!(
        problems,
        [
            "home.file.\"d\": target \"/etc/passwd\": the target is outside the home /home/alice",
            "home.file.\"e\": target \"../x\": the target contains `..`; targets must stay inside the home; this one would be outside the home /home/alice",
            ".vimrc: defined by home.file.\"a\" and by home.file.\"b\"; each target may appear once (remove one, or give it another target)",
            ".config/git/config (defined by xdg.configFile.\"git/config\") lies inside .config/git (defined by xdg.configFile.\"all\"); a path cannot be both a file and a directory",
        ]
    );
}

#[test]
fn clashes_are_typed_and_found_past_sorted_neighbours() {
    // `a-b` sorts between `a` and `a/b`: a check of sorted neighbours misses
    // that `a/b` lies inside `a`.
    let files = vec![
        file("a", "/s/a", "home.file.a"),
        file("a-b", "/s/b", "home.file.ab"),
        file("/home/alice/a/b", "/s/c", "home.file.inner"),
        file("a-b", "/s/d", "home.file.again"),
    ];
    let problems = typed(&spec(files), &[PLAIN, PLAIN, PLAIN, PLAIN]).unwrap_err();
    let rel = |s| RelPath::parse(s).unwrap();
    assert_eq!(
        problems,
        [
            Problem::Duplicate {
                target: rel("a-b"),
                first: "home.file.ab".into(),
                again: "home.file.again".into(),
            },
            Problem::Inside {
                target: rel("a/b"),
                who: "home.file.inner".into(),
                outer: rel("a"),
                outer_who: "home.file.a".into(),
            },
        ]
    );
}

#[test]
fn targets_in_the_home() {
    let home = Path::new("/home/alice");
    let t = |raw| target_in_home(raw, home);
    assert_eq!(t("/home/alice/.vimrc").unwrap().as_str(), ".vimrc");
    assert_eq!(t("./.config//git").unwrap().as_str(), ".config/git");
    let outside = BadSpecTarget::Outside { home: home.into() };
    let escapes = BadSpecTarget::Escapes { home: home.into() };
    assert_eq!(t("/etc/passwd"), Err(outside.clone()));
    assert_eq!(t("/home/alicex/a"), Err(outside));
    assert_eq!(t("/home/alice"), Err(BadTarget::TheHome.into()));
    assert_eq!(t("/home/alice/"), Err(BadTarget::TheHome.into()));
    assert_eq!(t("/home/alice/../bob/x"), Err(escapes.clone()));
    assert_eq!(t("../x"), Err(escapes));
    assert_eq!(t(""), Err(BadTarget::Empty.into()));
    assert_eq!(t("."), Err(BadTarget::TheHome.into()));
}

#[test]
fn problems_name_the_option_that_defined_the_file() {
    let mut x = file(".x", "/s/x", "home.file.x");
    x.kind = FileType::Copy;
    x.mode = Some("4755".into());
    let mut s = spec(vec![x, file("y", "/s/y", "home.file.y")]);
    s.shell = "sh".into();
    s.session_variables
        .insert("1X".into(), serde_json::json!("v"));
    let problems = typed(&s, &[PLAIN, SourceInfo::Missing]).unwrap_err();
    assert_eq!(
        problems,
        [
            Problem::Shell("sh".into()),
            Problem::Mode {
                who: "home.file.x".into(),
                why: BadMode::SpecialBits("4755".into())
            },
            Problem::SourceMissing {
                who: "home.file.y".into(),
                path: "/s/y".into()
            },
            Problem::VariableName("1X".into()),
        ]
    );
    let err = Error::Invalid {
        spec: "/spec.json".into(),
        user: "alice".into(),
        problems,
    };
    assert_eq!(
        err.to_string(),
        "the generation for alice cannot be built (/spec.json):
  shell: \"sh\" is not an absolute path; the scripts need a full path after #!
  home.file.x: mode: \"4755\" sets setuid, setgid or sticky bits, which hearth never creates; use a mode up to \"0777\"
  home.file.y: source /s/y does not exist
  home.sessionVariables.1X: \"1X\" is not a shell variable name (letters, digits and _, not starting with a digit)"
    );
}

#[test]
fn hooks_and_steps_are_scripts_in_the_generation() {
    let mut f = file(".a", "/s/a", "home.file.a");
    f.on_change = Some("echo changed".into());
    let mut s = spec(vec![f]);
    s.activation = vec![
        SpecStep {
            name: "first".into(),
            after: After::Check,
            text: "echo 1".into(),
        },
        SpecStep {
            name: "my step/2".into(),
            after: After::Files,
            text: "echo 2\n".into(),
        },
    ];
    let l = run(&s, &[PLAIN]).unwrap();
    let names: Vec<String> = l
        .scripts
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "hooks/onchange-0",
            "steps/0-first",
            "steps/1-my_step_2",
            "activate"
        ]
    );
    assert_eq!(
        l.manifest.files[0].on_change.as_deref(),
        Some(Path::new("/nix/store/gen/hooks/onchange-0"))
    );
    let steps: Vec<_> = l
        .manifest
        .activation
        .iter()
        .map(|s| (s.name.as_str(), s.after, s.script.display().to_string()))
        .collect();
    assert_eq!(
        steps,
        [
            ("first", After::Check, "/nix/store/gen/steps/0-first".into()),
            (
                "my step/2",
                After::Files,
                "/nix/store/gen/steps/1-my_step_2".into()
            ),
        ]
    );
    assert!(l.scripts[1].1.starts_with("#!/bin/sh\n"));
    assert!(l.scripts[1].1.ends_with("\necho 1\n"));
    assert_eq!(
        l.scripts[3].1,
        "#!/bin/sh\nexec '/bin/hearth' activate '/nix/store/gen' \"$@\"\n"
    );
}

#[test]
fn modes_and_executable_must_agree() {
    let mut f = file(".netrc", "/s/n", "home.file.netrc");
    f.kind = FileType::Copy;
    f.mode = Some("0600".into());
    f.executable = Some(true);
    let problems = run(&spec(vec![f]), &[PLAIN]).unwrap_err();
    assert_eq!(
        problems,
        ["home.file.netrc: executable = true contradicts mode \"0600\"; set one of them"]
    );
}

#[test]
fn quoting() {
    assert_eq!(single_quote("it's"), r"'it'\''s'");
    assert_eq!(
        double_quote(r#"a "b" $HOME \$X \n"#),
        r#""a \"b\" $HOME \$X \\n""#
    );
}

#[test]
fn session_vars_text() {
    let mut vars = IndexMap::new();
    vars.insert("EDITOR".to_string(), serde_json::json!("vim"));
    vars.insert("N".to_string(), serde_json::json!(3));
    let text = session_vars(&vars, &["$HOME/bin".into(), "/opt/x".into()]).unwrap();
    assert_eq!(
        text,
        "# Session variables of a hearth generation: source it from a shell profile.
# Only source this once. The guard is hearth's own: Home Manager's
# (__HM_SESS_VARS_SOURCED), inherited from a parent shell or set by a
# Home Manager of another user, must not hide hearth's variables.
if [ -n \"${__HEARTH_SESS_VARS_SOURCED:-}\" ]; then return; fi
export __HEARTH_SESS_VARS_SOURCED=1

export EDITOR=\"vim\"
export N=\"3\"
export PATH=\"$HOME/bin:/opt/x\"\"${PATH:+:}$PATH\"
"
    );
    vars.insert("BAD-NAME".to_string(), serde_json::json!("x"));
    assert!(session_vars(&vars, &[]).is_err());
}

// Every message a spec problem can show, pinned in one place.
#[test]
fn every_problem_message() {
    let rel = |s| RelPath::parse(s).unwrap();
    let who = || "home.file.\"a\"".to_string();
    let home = PathBuf::from("/home/alice");
    let problems = [
        Problem::Shell("sh".into()),
        Problem::Target {
            who: who(),
            raw: "/etc/passwd".into(),
            why: BadSpecTarget::Outside { home: home.clone() },
        },
        Problem::Target {
            who: who(),
            raw: "../x".into(),
            why: BadSpecTarget::Escapes { home },
        },
        Problem::Target {
            who: who(),
            raw: "/home/alice".into(),
            why: BadTarget::TheHome.into(),
        },
        Problem::Mode {
            who: who(),
            why: BadMode::NotOctal("0999".into()),
        },
        Problem::ModeOnSymlink { who: who() },
        Problem::ExecutableAndMode {
            who: who(),
            executable: true,
            mode: "0600".into(),
        },
        Problem::SourceMissing {
            who: who(),
            path: "/nix/store/aaaa-gone".into(),
        },
        Problem::RecursiveFile {
            who: who(),
            rel: "x\0y".into(),
            why: BadTarget::Nul,
        },
        Problem::Duplicate {
            target: rel(".vimrc"),
            first: who(),
            again: "home.file.\"b\"".into(),
        },
        Problem::Inside {
            target: rel(".config/lua/a.lua"),
            who: "xdg.configFile.\"lua/a.lua\"".into(),
            outer: rel(".config/lua"),
            outer_who: "home.file.\"lua\"".into(),
        },
        Problem::VariableName("1X".into()),
        Problem::VariableValue {
            name: "X".into(),
            value: "[1,2]".into(),
        },
    ];
    let err = Error::Invalid {
        spec: "/build/spec.json".into(),
        user: "alice".into(),
        problems: problems.to_vec(),
    };
    insta::assert_snapshot!(err.to_string());
}

/// The script in a real shell: Home Manager's guard, inherited, does not
/// hide hearth's variables; sourced twice, the path is prepended once.
#[test]
fn session_vars_have_their_own_guard() {
    let mut vars = IndexMap::new();
    vars.insert("HEARTH_TEST_EDITOR".to_string(), serde_json::json!("vim"));
    let text = session_vars(&vars, &["/opt/hearth-test".into()]).unwrap();
    let dir = std::env::temp_dir().join(format!("hearth-sessvars-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("hm-session-vars.sh");
    std::fs::write(&script, text).unwrap();
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            ". {0}; . {0}; echo \"$HEARTH_TEST_EDITOR|$PATH\"",
            script.display()
        ))
        .env("__HM_SESS_VARS_SOURCED", "1")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "vim|/opt/hearth-test:/usr/bin:/bin"
    );
}
