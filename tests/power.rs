//! Power loss in the middle of a switch. The home is on a loop-mounted ext4
//! image with a journal; hearth is stopped at its k-th write
//! (`HEARTH_FAULT_PAUSE_AT=k`), the filesystem is shut down without flushing
//! its log (`EXT4_IOC_SHUTDOWN` with `EXT4_GOING_FLAGS_NOLOGFLUSH`, as
//! xfstests' godown does: what was not forced to disk is gone, as after a
//! power cut), hearth is killed, and the image is mounted again (journal
//! replay). Then hearth recovers. For every k:
//!
//! - every copy holds its old or its new content, never an empty or
//!   zero-filled file, and `status` finds the home exactly on the recorded
//!   generation (nothing blamed on the user);
//! - the user's file that the switch moves aside is at its place or at its
//!   backup name, intact;
//! - the switch done again succeeds without a conflict, and no temporary
//!   name of hearth's is left.
//!
//! Needs root (mount), mkfs.ext4 and the `fault-injection` feature; skips
//! loudly otherwise: `cargo test --features fault-injection --test integration power::`.

use crate::common;

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// `_IOR('X', 125, __u32)` from linux/ext4.h.
const EXT4_IOC_SHUTDOWN: nix::libc::c_ulong = 0x8004_587d;
const EXT4_GOING_FLAGS_NOLOGFLUSH: u32 = 2;

const COPIES: usize = 3;

fn old_copy(i: usize) -> String {
    format!("old content of copy {i}\n")
}

fn new_copy(i: usize) -> String {
    format!("the new content of copy {i}, longer\n")
}

const USERS: &str = "the user's own file, in the way of the new generation\n";

/// A loop-mounted ext4 image, unmounted and removed on drop.
struct Image {
    file: PathBuf,
    mnt: PathBuf,
    mounted: bool,
}

impl Image {
    fn new() -> Option<Image> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: the power-loss test needs root (mount)");
            return None;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "power-{}-{}",
            std::process::id(),
            std::thread::current()
                .name()
                .unwrap_or("t")
                .replace("::", "-")
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("mnt")).unwrap();
        let file = dir.join("image");
        fs::File::create(&file).unwrap().set_len(64 << 20).unwrap();
        let mkfs = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-O", "has_journal"])
            .arg(&file)
            .stdout(Stdio::null())
            .status();
        if !mkfs.is_ok_and(|s| s.success()) {
            eprintln!("skipped: the power-loss test needs mkfs.ext4 (e2fsprogs)");
            return None;
        }
        let mut image = Image {
            file,
            mnt: dir.join("mnt"),
            mounted: false,
        };
        if !image.mount() {
            eprintln!("skipped: the power-loss test cannot loop-mount an ext4 image here");
            return None;
        }
        Some(image)
    }

    fn mount(&mut self) -> bool {
        let ok = Command::new("mount")
            .args(["-t", "ext4", "-o", "loop"])
            .arg(&self.file)
            .arg(&self.mnt)
            .status()
            .is_ok_and(|s| s.success());
        self.mounted = ok;
        ok
    }

    fn unmount(&mut self) {
        for args in [&["umount"][..], &["umount", "-l"][..]] {
            let out = Command::new(args[0])
                .args(&args[1..])
                .arg(&self.mnt)
                .output()
                .unwrap();
            let ok = out.status.success();
            if !ok {
                eprintln!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            if ok {
                self.mounted = false;
                self.wait_detached();
                return;
            }
        }
        panic!("cannot unmount {}", self.mnt.display());
    }

    /// Waits until no loop device holds the image any more: a mount made
    /// before that would pick up the old, shut-down filesystem again.
    fn wait_detached(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let out = Command::new("losetup")
                .arg("-j")
                .arg(&self.file)
                .output()
                .unwrap();
            if out.stdout.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the loop device of {} was not released",
            self.file.display()
        );
    }

    /// The power cut: the filesystem stops, and what was not forced to
    /// its log is lost.
    #[allow(unsafe_code, reason = "the ext4 shutdown ioctl has no safe wrapper")]
    fn cut(&self) {
        let dir = fs::File::open(&self.mnt).unwrap();
        let flag = EXT4_GOING_FLAGS_NOLOGFLUSH;
        // SAFETY: a valid descriptor and a pointer to a u32, as the ioctl takes.
        let r = unsafe { nix::libc::ioctl(dir.as_raw_fd(), EXT4_IOC_SHUTDOWN as _, &flag) };
        assert_eq!(
            r,
            0,
            "EXT4_IOC_SHUTDOWN: {}",
            std::io::Error::last_os_error()
        );
    }

    fn sync(&self) {
        let dir = fs::File::open(&self.mnt).unwrap();
        nix::unistd::syncfs(dir.as_raw_fd()).unwrap();
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
        if let Some(dir) = self.file.parent() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

fn hearth(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.args(args)
        .env("HOME", home)
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(home: &Path, args: &[&str]) -> Run {
    Run::from_output(hearth(home, args).output().unwrap())
}

/// Where the user's file is now: its place or a backup name, with its content.
fn users_file_intact(home: &Path) -> bool {
    let mut candidates = vec![home.join("theirs")];
    for entry in fs::read_dir(home).unwrap().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("theirs.bak")
        {
            candidates.push(entry.path());
        }
    }
    candidates
        .iter()
        .any(|p| fs::read_to_string(p).is_ok_and(|t| t == USERS))
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_power_cut_at_any_write_of_a_switch_loses_nothing_and_blames_nothing_on_the_user() {
    nix_available();
    let Some(mut image) = Image::new() else {
        return;
    };
    let home = image.mnt.join("home");
    let path = path_str(&home).to_owned();
    // Old: three copies, one more copy the new generation drops, a link.
    // New: the copies changed, a new copy where the user's file is (moved
    // aside with the backup extension), the link re-pointed.
    let mut old = GenSpec::new(&path);
    let mut new = GenSpec::new(&path);
    for i in 0..COPIES {
        old = old.file(FileSpec::text(&format!("conf/c{i}"), &old_copy(i)).copy());
        new = new.file(FileSpec::text(&format!("conf/c{i}"), &new_copy(i)).copy());
    }
    old = old
        .file(FileSpec::text("conf/dropped", "dropped\n").copy())
        .text("link", "link one\n");
    new = new
        .file(FileSpec::text("theirs", "hearth's copy\n").copy())
        .text("link", "link two\n");
    let gens = build_generations(&[old, new]);
    let (old, new) = (path_str(&gens[0]), path_str(&gens[1]));

    let (mut trials, mut reverted, mut completed) = (0, 0, 0);
    // Each write point twice: the cut alone (only what hearth forced to
    // disk survives), and after another program's fsync on the same
    // filesystem, which commits the filesystem's log with everything
    // hearth did so far, but not the data hearth did not force.
    for (k, committed) in (1..).flat_map(|k| [(k, false), (k, true)]) {
        fs::create_dir_all(home.join(".local/state")).unwrap();
        fs::write(home.join("theirs"), USERS).unwrap();
        run(&home, &["activate", old]).assert_ok();
        image.sync();

        let mut child = hearth(&home, &["activate", new, "--backup-ext", "bak"])
            .env("HEARTH_FAULT_PAUSE_AT", k.to_string())
            .spawn()
            .unwrap();
        let stopped = stopped_or_exited(&mut child);
        if !stopped {
            // Past the last write: every write point has been cut at.
            Run::from_output(child.wait_with_output().unwrap()).assert_ok();
            break;
        }
        trials += 1;
        if committed {
            let other = image.mnt.join("another-program");
            fs::write(&other, "x").unwrap();
            fs::File::open(&other).unwrap().sync_all().unwrap();
        }
        image.cut();
        kill(
            Pid::from_raw(i32::try_from(child.id()).unwrap()),
            Signal::SIGKILL,
        )
        .unwrap();
        let _ = child.wait();
        image.unmount();
        assert!(image.mount(), "the image does not mount again");

        // Recovery (any command recovers first), then the home must be
        // exactly on the generation its record names.
        let status = run(&home, &["status"]);
        assert_eq!(status.code, 0, "cut at write {k} ({committed}):\n{status}");
        if status.stderr.contains("reverted") {
            reverted += 1;
        } else {
            completed += 1;
        }
        for i in 0..COPIES {
            let text = fs::read_to_string(home.join(format!("conf/c{i}"))).unwrap();
            assert!(
                text == old_copy(i) || text == new_copy(i),
                "cut at write {k} ({committed}): conf/c{i} holds {text:?}"
            );
        }
        assert!(
            users_file_intact(&home),
            "cut at write {k} ({committed}): the user's file is lost"
        );
        assert_eq!(
            litter(&home),
            Vec::<PathBuf>::new(),
            "cut at write {k} ({committed})"
        );

        // The switch again: no conflict, nothing of hearth's moved aside as
        // if it were the user's.
        let again = run(&home, &["activate", new, "--backup-ext", "bak"]);
        again.assert_ok();
        assert!(
            !again.stderr.contains("changed since"),
            "cut at write {k} ({committed}):\n{again}"
        );
        for i in 0..COPIES {
            assert_eq!(
                fs::read_to_string(home.join(format!("conf/c{i}"))).unwrap(),
                new_copy(i)
            );
            assert!(
                !home.join(format!("conf/c{i}.bak")).exists(),
                "cut at write {k} ({committed})"
            );
        }
        assert!(
            users_file_intact(&home),
            "cut at write {k} ({committed}): the user's file is lost"
        );
        assert_eq!(
            litter(&home),
            Vec::<PathBuf>::new(),
            "cut at write {k} ({committed})"
        );
        fs::remove_dir_all(&home).unwrap();
        let _ = fs::remove_file(image.mnt.join("another-program"));
        image.sync();
    }
    assert!(trials > 5, "only {trials} write points");
    eprintln!(
        "{trials} power cuts, two at each write of the switch: {reverted} reverted to the old generation, \
         {completed} found on the new one; no copy empty or damaged, no user file lost"
    );
}
