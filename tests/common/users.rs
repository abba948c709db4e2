//! The user running the tests, and throwaway accounts for the root-mode
//! tests: made with useradd, removed with userdel on drop (even when a test
//! fails). Only root can make them.

use std::ffi::OsStr;
use std::fs;
use std::marker::PhantomData;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Returns from the test, saying so, unless it runs as root.
#[allow(unused_macros)]
macro_rules! needs_root {
    () => {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to create users");
            return;
        }
    };
}

/// An account with its own group and a home holding `.local/state`.
pub type TestUser = TestUserOf<()>;

/// `TestUser`, marked by `M` for whose methods it has: a test module that
/// gives its users methods of its own (`new`, `gen`, ...) does so on
/// `TestUserOf<ItsMarker>`, since the same inherent methods on one type from
/// two modules of the one test binary would clash. (Aliases, not a default
/// type parameter: `TestUser::create(...)` must not need its type spelled.)
pub struct TestUserOf<M> {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    marker: PhantomData<M>,
}

/// useradd and userdel lock /etc/passwd; tests in other processes may hold
/// it for a moment, so a failure is retried.
pub fn retry(program: &str, args: &[&OsStr]) {
    let mut last = String::new();
    for _ in 0..100 {
        let out = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        if out.status.success() {
            return;
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{program} {args:?} kept failing: {last}");
}

/// Whether `name` is one of the throwaway accounts `fresh` names (in this
/// or another test process): `h<letters><pid>x<n>`. Tests that compare the
/// accounts files leave these lines out, since other tests add and remove
/// them meanwhile.
pub fn is_test_account(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('h') else {
        return false;
    };
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_lowercase());
    let Some((pid, n)) = digits.split_once('x') else {
        return false;
    };
    digits.len() < rest.len()
        && !pid.is_empty()
        && !n.is_empty()
        && pid.chars().all(|c| c.is_ascii_digit())
        && n.chars().all(|c| c.is_ascii_digit())
}

/// A fresh name `<prefix><pid>x<n>` and an empty place for it under the
/// target's tmp dir `kind`.
pub fn fresh(prefix: &str, kind: &str) -> (String, PathBuf) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(kind);
    fs::create_dir_all(&base).unwrap();
    let path = base.join(&name);
    let _ = fs::remove_dir_all(&path);
    (name, path)
}

impl<M> TestUserOf<M> {
    /// A generation for this user's home.
    pub fn gen(&self) -> super::GenSpec {
        super::GenSpec::new(&self.home).user(&self.name)
    }

    /// Hands the home (and the parents of hearth's state in it) to
    /// `uid:gid`, mode 0755.
    pub fn chown_home(&self, uid: u32, gid: u32) {
        for rel in ["", ".local", ".local/state"] {
            std::os::unix::fs::lchown(self.home.join(rel), Some(uid), Some(gid)).unwrap();
        }
        fs::set_permissions(&self.home, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The account `<prefix>…` with its home (0755, still root's: the caller
    /// hands it over) under the target's tmp dir `kind`.
    pub fn create(prefix: &str, kind: &str) -> Self {
        // So that `is_test_account` knows it, whoever compares the
        // accounts files meanwhile.
        assert!(
            prefix.len() > 1
                && prefix.starts_with('h')
                && prefix.chars().all(|c| c.is_ascii_lowercase()),
            "test account prefixes are h and one or more lowercase letters: {prefix}"
        );
        let (name, home) = fresh(prefix, kind);
        fs::create_dir_all(home.join(".local/state")).unwrap();
        retry(
            "useradd",
            &[
                "-M".as_ref(),
                "-U".as_ref(),
                "-s".as_ref(),
                "/bin/sh".as_ref(),
                "-d".as_ref(),
                home.as_os_str(),
                name.as_ref(),
            ],
        );
        let user = nix::unistd::User::from_name(&name).unwrap().unwrap();
        let u = TestUserOf {
            name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: home.canonicalize().unwrap(),
            marker: PhantomData,
        };
        fs::set_permissions(&u.home, fs::Permissions::from_mode(0o755)).unwrap();
        u
    }
}

impl<M> Drop for TestUserOf<M> {
    fn drop(&mut self) {
        retry("userdel", &[self.name.as_ref()]);
        let _ = fs::remove_dir_all(&self.home);
        let _ = fs::remove_dir_all(Path::new("/nix/var/nix/gcroots/per-user").join(&self.name));
    }
}

/// The name of the user running the tests (the manifest's `user` must match).
pub fn current_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .expect("look up the current user")
        .unwrap_or_else(|| panic!("uid {uid} has no passwd entry"))
        .name
}
