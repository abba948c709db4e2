//! `cargo bench --bench activate`: how fast `hearth activate` is, next to the
//! least that any activator has to do (the *floor*). Takes about a minute.
//!
//! Setup
//! - For N = 1,000 and 10,000 it lays out generation A the way a real home
//!   looks: a few top-level dotfiles, then apps under `.config/<app>/`,
//!   `.local/share/<app>/` and `.<app>.d/`, files 1–5 levels deep, 10–30 files
//!   a directory. Generation B is A with 10% of the files changed (a new
//!   source), 5% removed (mostly whole leaf directories, as when an app is
//!   dropped, so that emptied directories are removed too) and 5% added (half
//!   of them in new directories). The layout is seeded, so every run measures
//!   the same homes.
//! - One `nix-build` builds everything: one derivation writes all the source
//!   files with a shell loop, and each generation is a derivation holding only
//!   its manifest.json (passed as a file: a 10,000-entry manifest is larger
//!   than Linux allows for one environment variable). Unchanged, it is cached.
//! - The homes live on a journaled ext4 image, made afresh under
//!   target/bench-activate/ and loop-mounted, when the bench runs as root: the
//!   root filesystem of the machines this was written on is ext4 *without* a
//!   journal, where create/delete churn makes symlink creation 5–8× slower as
//!   a run goes on, so figures taken there drift and say little about a real
//!   home. Not root, or the mount fails: a plain directory, and the run says
//!   so. Either way the filesystem used is printed. The image is unmounted at
//!   the end, also on a panic (an interrupted run's mount is cleaned up by
//!   the next run).
//!
//! Cases, each the median of several repetitions
//! - fresh:  `hearth activate A` into an empty home (new home and state for
//!   every repetition);
//! - no-op:  `hearth activate A` on a home that already matches A;
//! - switch: `hearth activate B` on a home at A (reset by a fresh, untimed
//!   activation of A before every repetition).
//!
//! hearth is timed as a whole process, spawn to exit, with HOME pointing at
//! the throwaway home and XDG_STATE_HOME beside it. The binary is the one
//! cargo builds for this bench (`CARGO_BIN_EXE_hearth`, which cargo provides
//! to benches; the bench profile inherits release, so it is
//! target/release/hearth), copied to target/bench-activate/ first so that a
//! concurrent cargo build cannot swap it mid-run.
//!
//! The floor is the same change made by this process with only the
//! unavoidable syscalls, every path prepared before the clock starts:
//! - fresh:  mkdir of each directory (parents first), then per file symlink
//!   to a temporary name beside the target + rename over it (replacing
//!   atomically is required, so the rename is part of the floor);
//! - no-op:  lstat + readlink per file;
//! - switch: lstat (+ readlink when it is a link) of every target of A ∪ B,
//!   since a safe switch must look at each before changing anything; mkdir
//!   per new directory; symlink temp + rename per changed or added file;
//!   unlink per removed file; rmdir per directory left empty (deepest first).
//!
//! No process start, JSON, state, journal or fsync is in the floor, so the
//! ratio counts all of hearth's overhead.
//!
//! Targets (from the issue): fresh and switch ≤ 1.5× the floor, no-op ≤ 2×
//! the floor, peak RSS < 50 MB at N = 10,000. A miss is reported, not an
//! error. The bench fails only when something does not work: an activation
//! exits non-zero or leaves the home wrong (checked after each run of hearth
//! and of the floor: number of links, no stray files, number of directories,
//! and a sample of link targets), so it can never time a failing run.
//!
//! Peak RSS is measured by running hearth under GNU time (`/usr/bin/time -f
//! %M`) in one extra, untimed run per case: a process spawned straight from
//! this one inherits this process's high-water mark at exec, so its own
//! wait4 ru_maxrss would report the bench's memory. GNU time's figure also
//! folds in the peak of any child hearth waits for (`nix-store --add-root`,
//! when it cannot link a GC root itself). Without GNU time, the wait4
//! figure is shown, which overstates.
//!
//! Output: a table on stdout and target/bench-activate.json.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use serde_json::{json, Value};

const SIZES: [usize; 2] = [1_000, 10_000];
/// Size of the loop-mounted image: room for every home with its links
/// (a store path is too long for an inline symlink, so each takes a block).
const IMAGE_BYTES: u64 = 1 << 30;
const SOURCES_PLACEHOLDER: &str = "@SRC@";

fn main() {
    if let Err(e) = run() {
        eprintln!("bench activate: {e}");
        std::process::exit(1);
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run() -> Result<()> {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_hearth"));
    // CARGO_BIN_EXE_hearth is <target>/release/hearth.
    let target = built
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot find the target directory")?
        .to_path_buf();
    let work = target.join("bench-activate");
    fs::create_dir_all(&work)?;
    // Run a copy: other cargo commands (tests, other features) may rebuild
    // target/release/hearth while the bench runs.
    let bin = {
        let copy = work.join("hearth");
        fs::copy(&built, &copy)?;
        copy
    };
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())?
        .ok_or("the running user has no name")?
        .name;

    let scratch = Scratch::new(&work)?;
    println!("filesystem: {}", scratch.description);
    println!(
        "hearth:     {} (a copy of {})",
        bin.display(),
        built.display()
    );

    let scenarios: Vec<Scenario> = SIZES
        .iter()
        .map(|&n| Scenario::new(n, &scratch.root))
        .collect();
    let started = Instant::now();
    let generations = build(&work, &user, &scenarios)?;
    println!(
        "built the generations with one nix-build in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut rows = Vec::new();
    let mut peak_rss_10k = 0;
    for (s, gens) in scenarios.iter().zip(&generations.generations) {
        let bench = Bench {
            bin: &bin,
            s,
            gen_a: &gens.0,
            gen_b: &gens.1,
            sources: &generations.sources,
            logs: &work,
        };
        let measured = bench.measure()?;
        if s.n == 10_000 {
            peak_rss_10k = measured.iter().map(|r| r.max_rss_kb).max().unwrap_or(0);
        }
        rows.extend(measured);
    }
    let filesystem = scratch.description.clone();
    drop(scratch);

    report(
        &rows,
        peak_rss_10k,
        &filesystem,
        &generations,
        &bin,
        &target,
    )
}

// ---------------------------------------------------------------------------
// Layouts

/// A generation's files: target (relative to the home) → number of its source
/// file in the sources derivation.
type Files = BTreeMap<String, usize>;

/// splitmix64: deterministic, so that every run measures the same homes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Puts 10–30 files into `dir`, then 0–2 subdirectories filled the same way
/// (files at most 5 levels deep), stopping once `files` holds `limit`.
fn fill(rng: &mut Rng, files: &mut Files, limit: usize, next_src: &mut usize, dir: &str) {
    for j in 0..rng.between(10, 30) {
        if files.len() >= limit {
            return;
        }
        files.insert(format!("{dir}/f{j}.conf"), *next_src);
        *next_src += 1;
    }
    if dir.split('/').count() < 4 {
        for s in 0..rng.below(3) {
            fill(rng, files, limit, next_src, &format!("{dir}/d{s}"));
        }
    }
}

/// Every directory that holds a target, at any depth.
fn dirs_of(files: &Files) -> BTreeSet<String> {
    let mut dirs = BTreeSet::new();
    for t in files.keys() {
        let mut p = t.as_str();
        while let Some(i) = p.rfind('/') {
            p = &p[..i];
            // Its ancestors went in with it.
            if !dirs.insert(p.to_string()) {
                break;
            }
        }
    }
    dirs
}

/// Parents before children (or, reversed, children before parents).
fn by_depth(dirs: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = dirs.into_iter().collect();
    v.sort_by_key(|d| (d.matches('/').count(), d.clone()));
    v
}

struct Scenario {
    n: usize,
    a: Files,
    b: Files,
    /// How many source files A and B use together (0..sources).
    sources: usize,
    home: PathBuf,
    state: PathBuf,
    floor: PathBuf,
}

impl Scenario {
    fn new(n: usize, root: &Path) -> Scenario {
        let mut rng = Rng(n as u64);
        let mut next = 0;
        let a = generation_a(&mut rng, n, &mut next);
        let b = generation_b(&mut rng, &a, &mut next);
        let base = root.join(format!("n{n}"));
        Scenario {
            n,
            a,
            b,
            sources: next,
            home: base.join("home"),
            state: base.join("state"),
            floor: base.join("floor"),
        }
    }
}

fn generation_a(rng: &mut Rng, n: usize, next: &mut usize) -> Files {
    let mut files = Files::new();
    for j in 0..n.min(12) {
        files.insert(format!(".dotfile{j}"), *next);
        *next += 1;
    }
    let mut app = 0;
    while files.len() < n {
        let dir = match rng.below(4) {
            0 | 1 => format!(".config/app{app}"),
            2 => format!(".local/share/app{app}"),
            _ => format!(".app{app}.d"),
        };
        fill(rng, &mut files, n, next, &dir);
        app += 1;
    }
    files
}

/// A with 10% changed, 5% removed and 5% added.
fn generation_b(rng: &mut Rng, a: &Files, next: &mut usize) -> Files {
    let n = a.len();
    let (changed, removed, added) = (n / 10, n / 20, n / 20);
    let mut b = a.clone();

    // Up to half of the removals are whole leaf directories (an app dropped).
    let all_dirs = dirs_of(a);
    let mut in_dir: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for t in a.keys() {
        if let Some(i) = t.rfind('/') {
            in_dir.entry(&t[..i]).or_default().push(t);
        }
    }
    let mut leaves: Vec<&str> = in_dir
        .keys()
        .copied()
        .filter(|d| {
            let prefix = format!("{d}/");
            !all_dirs.iter().any(|o| o.starts_with(&prefix))
        })
        .collect();
    rng.shuffle(&mut leaves);
    let mut gone = 0;
    for d in leaves {
        if gone >= removed / 2 {
            break;
        }
        let files = &in_dir[d];
        if gone + files.len() <= removed {
            files.iter().for_each(|t| {
                b.remove(*t);
            });
            gone += files.len();
        }
    }
    // The rest of the removals, then the changes, from one shuffle: disjoint.
    let mut rest: Vec<String> = b.keys().cloned().collect();
    rng.shuffle(&mut rest);
    let mut rest = rest.into_iter();
    for t in rest.by_ref().take(removed - gone) {
        b.remove(&t);
    }
    for t in rest.take(changed) {
        b.insert(t, *next);
        *next += 1;
    }

    // Half of the additions in new directories (a new app) ...
    let limit = b.len() + added / 2;
    let mut app = 0;
    while b.len() < limit {
        fill(rng, &mut b, limit, next, &format!(".config/new{app}"));
        app += 1;
    }
    // ... and half as new files in directories that already exist.
    let existing: Vec<String> = dirs_of(&b).into_iter().collect();
    let mut j = 0;
    while b.len() < n - removed + added {
        let d = &existing[rng.below(existing.len())];
        b.insert(format!("{d}/added{j}.conf"), *next);
        *next += 1;
        j += 1;
    }
    b
}

// ---------------------------------------------------------------------------
// Building the generations

struct Built {
    sources: PathBuf,
    /// (A, B) per scenario, in order.
    generations: Vec<(PathBuf, PathBuf)>,
}

fn write_manifest(path: &Path, user: &str, home: &Path, files: &Files) -> io::Result<()> {
    let entries: Vec<Value> = files
        .iter()
        .map(|(target, src)| {
            json!({
                "target": target,
                "source": format!("{SOURCES_PLACEHOLDER}/{src}"),
                "type": "symlink",
                "mode": null,
                "force": false,
                "onChange": null,
            })
        })
        .collect();
    let manifest = json!({
        "version": 1,
        "user": user,
        "home": home,
        "backupExtension": null,
        "files": entries,
        "packages": null,
        "activation": [],
    });
    let mut out = BufWriter::new(fs::File::create(path)?);
    serde_json::to_writer(&mut out, &manifest)?;
    out.flush()
}

/// Writes the manifests with a placeholder for the sources' store path, and
/// one Nix expression that builds the sources and every generation; Nix puts
/// the real path in (`replaceStrings` keeps the dependency).
fn build(work: &Path, user: &str, scenarios: &[Scenario]) -> Result<Built> {
    let dir = work.join("manifests");
    fs::create_dir_all(&dir)?;
    let pool = scenarios.iter().map(|s| s.sources).max().unwrap_or(0);
    let mut gens = String::new();
    for s in scenarios {
        for (tag, files) in [("a", &s.a), ("b", &s.b)] {
            let path = dir.join(format!("{}-{tag}.json", s.n));
            write_manifest(&path, user, &s.home, files)?;
            // A JSON string is a valid Nix string here: the path has no "${".
            gens += &format!(
                "  (gen \"{}-{tag}\" {})\n",
                s.n,
                serde_json::to_string(&path.to_string_lossy())?
            );
        }
    }
    let expr = r#"let
  sources = builtins.derivation {
    name = "hearth-bench-sources";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "/bin:/usr/bin";
    args = [ "-c" "mkdir $out && i=0 && while [ $i -lt @POOL@ ]; do echo \"bench source $i\" > $out/$i; i=$((i+1)); done" ];
  };
  gen = name: template: builtins.derivation {
    name = "hearth-bench-gen-${name}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "/bin:/usr/bin";
    manifest = builtins.replaceStrings [ "@SRC@" ] [ "${sources}" ] (builtins.readFile template);
    passAsFile = [ "manifest" ];
    args = [ "-c" "mkdir $out && cp \"$manifestPath\" $out/manifest.json" ];
  };
in [
  sources
@GENS@]
"#
    .replace("@POOL@", &pool.to_string())
    .replace("@GENS@", &gens);
    let nix_file = work.join("generations.nix");
    fs::write(&nix_file, expr)?;

    let out = Command::new("nix-build")
        .arg(&nix_file)
        .args(["--no-out-link", "--option", "substituters", ""])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run nix-build: {e}"))?;
    if !out.status.success() {
        return Err(format!("nix-build failed ({})", out.status).into());
    }
    let paths: Vec<PathBuf> = String::from_utf8(out.stdout)?
        .lines()
        .map(PathBuf::from)
        .collect();
    if paths.len() != 1 + 2 * scenarios.len() {
        return Err(format!("nix-build printed {} paths: {paths:?}", paths.len()).into());
    }
    let generations = scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (a, b) = (paths[1 + 2 * i].clone(), paths[2 + 2 * i].clone());
            // nix-build prints a list's outputs in order; make sure of it.
            assert!(a.to_string_lossy().ends_with(&format!("-gen-{}-a", s.n)));
            assert!(b.to_string_lossy().ends_with(&format!("-gen-{}-b", s.n)));
            (a, b)
        })
        .collect();
    Ok(Built {
        sources: paths[0].clone(),
        generations,
    })
}

// ---------------------------------------------------------------------------
// Where the homes live

/// The directory the homes go in; unmounts the image (if any) when dropped,
/// which also happens when the bench panics.
struct Scratch {
    root: PathBuf,
    image: Option<(PathBuf, PathBuf)>,
    description: String,
}

impl Scratch {
    fn new(work: &Path) -> Result<Scratch> {
        let mnt = work.join("mnt");
        fs::create_dir_all(&mnt)?;
        let mnt = mnt.canonicalize()?;
        // A run that was killed may have left its image mounted.
        if mount_of(&mnt).is_some_and(|m| m.point == mnt) {
            unmount(&mnt);
        }
        let image = work.join("ext4.img");
        if nix::unistd::geteuid().is_root() {
            match make_image(&image, &mnt) {
                Ok(()) => {
                    let m = mount_of(&mnt).ok_or("the image is not mounted")?;
                    return Ok(Scratch {
                        root: mnt.clone(),
                        description: format!(
                            "{} ({}), a fresh image {} loop-mounted at {}",
                            m.fstype,
                            journal_text(&m),
                            image.display(),
                            mnt.display()
                        ),
                        image: Some((image, mnt)),
                    });
                }
                Err(e) => eprintln!("bench activate: cannot use a loop-mounted ext4 image: {e}"),
            }
        }
        let root = work.join("plain");
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        fs::create_dir_all(&root)?;
        let root = root.canonicalize()?;
        let m = mount_of(&root);
        Ok(Scratch {
            description: format!(
                "a plain directory {} on {} (not root or no loop mount: figures depend on that filesystem)",
                root.display(),
                m.map(|m| format!("{} ({}) mounted at {}", m.fstype, journal_text(&m), m.point.display()))
                    .unwrap_or_else(|| "an unknown filesystem".into())
            ),
            root,
            image: None,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((image, mnt)) = &self.image {
            unmount(mnt);
            let _ = fs::remove_file(image);
        }
    }
}

fn make_image(image: &Path, mnt: &Path) -> Result<()> {
    let _ = fs::remove_file(image);
    fs::File::create(image)?.set_len(IMAGE_BYTES)?;
    // Inode tables and journal written now, not by a background thread
    // while the bench runs.
    let status = Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-j",
            "-E",
            "lazy_itable_init=0,lazy_journal_init=0",
        ])
        .arg(image)
        .status()?;
    if !status.success() {
        return Err(format!("mkfs.ext4 failed ({status})").into());
    }
    let status = Command::new("mount")
        .args(["-o", "loop"])
        .arg(image)
        .arg(mnt)
        .status()?;
    if !status.success() {
        return Err(format!("mount -o loop failed ({status})").into());
    }
    Ok(())
}

fn unmount(mnt: &Path) {
    let ok = Command::new("umount")
        .arg(mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "bench activate: umount {} failed; detaching it lazily",
            mnt.display()
        );
        let _ = Command::new("umount").arg("-l").arg(mnt).status();
    }
}

struct Mount {
    device: String,
    point: PathBuf,
    fstype: String,
}

/// The mount that holds `path` (the longest mount point above it).
fn mount_of(path: &Path) -> Option<Mount> {
    let table = fs::read_to_string("/proc/mounts").ok()?;
    table
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (device, point, fstype) = (f.next()?, f.next()?, f.next()?);
            Some(Mount {
                device: device.to_string(),
                point: PathBuf::from(point.replace("\\040", " ")),
                fstype: fstype.to_string(),
            })
        })
        .filter(|m| path.starts_with(&m.point))
        .max_by_key(|m| m.point.as_os_str().len())
}

/// Whether an ext4 mount has a journal: jbd2 lists each journal it runs as
/// `<device>-<inode>`.
fn journal_text(m: &Mount) -> &'static str {
    if m.fstype != "ext4" && m.fstype != "ext3" {
        return "journal unknown";
    }
    let dev = m.device.rsplit('/').next().unwrap_or_default();
    let journaled = fs::read_dir("/proc/fs/jbd2").is_ok_and(|d| {
        d.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{dev}-"))
        })
    });
    if journaled {
        "with a journal"
    } else {
        "WITHOUT a journal"
    }
}

// ---------------------------------------------------------------------------
// Measuring

struct Row {
    n: usize,
    case: &'static str,
    hearth: Vec<Duration>,
    floor: Vec<Duration>,
    max_rss_kb: i64,
}

impl Row {
    fn limit(&self) -> f64 {
        if self.case == "no-op" {
            2.0
        } else {
            1.5
        }
    }
}

fn median(v: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let m = ms.len() / 2;
    if ms.len() % 2 == 1 {
        ms[m]
    } else {
        (ms[m - 1] + ms[m]) / 2.0
    }
}

struct Bench<'a> {
    bin: &'a Path,
    s: &'a Scenario,
    gen_a: &'a Path,
    gen_b: &'a Path,
    sources: &'a Path,
    logs: &'a Path,
}

impl Bench<'_> {
    /// Enough runs for a steady median on a noisy machine: a run at 1,000
    /// files takes tens of milliseconds, so it can afford many.
    fn reps(&self) -> usize {
        if self.s.n <= 1_000 {
            21
        } else {
            7
        }
    }

    fn measure(&self) -> Result<Vec<Row>> {
        let s = self.s;
        let (dirs_a, dirs_b) = (dirs_of(&s.a), dirs_of(&s.b));
        let fresh_ops = FreshOps::new(&s.floor, &s.a, &dirs_a, self.sources);
        let noop_ops: Vec<PathBuf> = s.a.keys().map(|t| s.floor.join(t)).collect();
        let switch_ops = SwitchOps::new(&s.floor, s, &dirs_a, &dirs_b, self.sources);
        let row = |case| Row {
            n: s.n,
            case,
            hearth: Vec::new(),
            floor: Vec::new(),
            max_rss_kb: 0,
        };
        let (mut fresh, mut noop, mut switch) = (row("fresh"), row("no-op"), row("switch"));
        let record = |row: &mut Row, r: Activation| row.hearth.push(r.time);

        // Warm-up (page cache of the store and the binary), not counted.
        self.reset()?;
        self.activate(self.gen_a, &s.a, &dirs_a, false)?;

        for _ in 0..self.reps() {
            self.reset()?;
            record(&mut fresh, self.activate(self.gen_a, &s.a, &dirs_a, false)?);
            wipe(&s.floor)?;
            fresh
                .floor
                .push(self.floor(|| fresh_ops.run(), &s.a, &dirs_a)?);
        }
        self.reset()?;
        fresh.max_rss_kb = self.activate(self.gen_a, &s.a, &dirs_a, true)?.max_rss_kb;
        // Both homes are at A after the fresh runs.
        for _ in 0..self.reps() {
            nix::unistd::sync();
            record(&mut noop, self.activate(self.gen_a, &s.a, &dirs_a, false)?);
            noop.floor
                .push(self.floor(|| noop_floor(&noop_ops), &s.a, &dirs_a)?);
        }
        noop.max_rss_kb = self.activate(self.gen_a, &s.a, &dirs_a, true)?.max_rss_kb;
        for _ in 0..self.reps() {
            self.reset()?;
            self.activate(self.gen_a, &s.a, &dirs_a, false)?;
            nix::unistd::sync();
            record(
                &mut switch,
                self.activate(self.gen_b, &s.b, &dirs_b, false)?,
            );
            wipe(&s.floor)?;
            fresh_ops.run()?;
            switch
                .floor
                .push(self.floor(|| switch_ops.run(), &s.b, &dirs_b)?);
        }
        self.reset()?;
        self.activate(self.gen_a, &s.a, &dirs_a, false)?;
        switch.max_rss_kb = self.activate(self.gen_b, &s.b, &dirs_b, true)?.max_rss_kb;
        Ok(vec![fresh, noop, switch])
    }

    /// An empty home and no state.
    fn reset(&self) -> Result<()> {
        wipe(&self.s.home)?;
        wipe(&self.s.state)?;
        nix::unistd::sync();
        Ok(())
    }

    /// Runs `hearth activate gen`, checks it worked, returns its time and peak RSS.
    /// `rss`: run it under GNU time for its peak RSS (an untimed run: the
    /// wrapper's fork and exec would count in the time).
    fn activate(
        &self,
        gen: &Path,
        files: &Files,
        dirs: &BTreeSet<String>,
        rss: bool,
    ) -> Result<Activation> {
        let s = self.s;
        let out_path = self.logs.join("hearth.out");
        let err_path = self.logs.join("hearth.err");
        let rss_path = self.logs.join("hearth.rss");
        // The peak RSS comes from /usr/bin/time: a child spawned straight
        // from this process would inherit this process's (much larger)
        // high-water mark at exec, so wait4's ru_maxrss would report ours.
        let wrapper = time_bin().filter(|_| rss);
        let mut cmd = match wrapper {
            Some(time) => {
                let mut c = Command::new(time);
                c.args(["-f", "%M", "-o"]).arg(&rss_path).arg(self.bin);
                c
            }
            None => Command::new(self.bin),
        };
        let start = Instant::now();
        let child = cmd
            .arg("activate")
            .arg(gen)
            .env("HOME", &s.home)
            .env("XDG_STATE_HOME", &s.state)
            .stdin(Stdio::null())
            // Files, not pipes: nothing to drain while timing.
            .stdout(fs::File::create(&out_path)?)
            .stderr(fs::File::create(&err_path)?)
            .spawn()?;
        let (status, inherited_rss_kb) = wait_rusage(child.id())?;
        let time = start.elapsed();
        let max_rss_kb = match wrapper {
            Some(_) => fs::read_to_string(&rss_path)?
                .trim()
                .parse()
                .map_err(|e| format!("reading {}: {e}", rss_path.display()))?,
            None => inherited_rss_kb,
        };
        if status != WaitStatus::Exited(Pid::from_raw(child.id() as i32), 0) {
            return Err(format!(
                "hearth activate {} (N = {}) ended with {status:?}\nstdout:\n{}\nstderr:\n{}",
                gen.display(),
                s.n,
                fs::read_to_string(&out_path).unwrap_or_default(),
                fs::read_to_string(&err_path).unwrap_or_default()
            )
            .into());
        }
        verify(&s.home, files, dirs, self.sources)
            .map_err(|e| format!("after hearth activate {}: {e}", gen.display()))?;
        Ok(Activation { time, max_rss_kb })
    }

    /// Times `op` on the floor's home and checks that it left the same home
    /// as hearth does.
    fn floor(
        &self,
        op: impl Fn() -> io::Result<()>,
        files: &Files,
        dirs: &BTreeSet<String>,
    ) -> Result<Duration> {
        nix::unistd::sync();
        let start = Instant::now();
        op()?;
        let time = start.elapsed();
        verify(&self.s.floor, files, dirs, self.sources)
            .map_err(|e| format!("after the floor: {e}"))?;
        Ok(time)
    }
}

/// GNU time, when installed (Debian package `time`), for honest peak RSS.
fn time_bin() -> Option<&'static str> {
    Path::new("/usr/bin/time")
        .exists()
        .then_some("/usr/bin/time")
}

struct Activation {
    time: Duration,
    max_rss_kb: i64,
}

/// Waits for `pid` and returns its status with its peak RSS in KiB (wait4:
/// the child's own usage, unlike RUSAGE_CHILDREN, which would also count
/// nix-build).
fn wait_rusage(pid: u32) -> io::Result<(WaitStatus, i64)> {
    let pid = pid as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data, so all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are valid for writes for the whole call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let status = WaitStatus::from_raw(Pid::from_raw(pid), status).map_err(io::Error::from)?;
    Ok((status, usage.ru_maxrss))
}

fn wipe(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(dir)
}

/// The home holds exactly `files` as links (no stray temporaries, no missing
/// link) in exactly `dirs`, and a sample of the links points where it should.
fn verify(home: &Path, files: &Files, dirs: &BTreeSet<String>, sources: &Path) -> Result<()> {
    let (mut links, mut others, mut ndirs) = (0, Vec::new(), 0);
    let mut stack = vec![home.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let e = e?;
            let ft = e.file_type()?;
            if ft.is_dir() {
                ndirs += 1;
                stack.push(e.path());
            } else if ft.is_symlink() {
                links += 1;
            } else {
                others.push(e.path());
            }
        }
    }
    if links != files.len() || !others.is_empty() || ndirs != dirs.len() {
        return Err(format!(
            "{}: {links} links, {ndirs} directories and {} other files ({:?}); expected {} links and {} directories",
            home.display(),
            others.len(),
            others.iter().take(3).collect::<Vec<_>>(),
            files.len(),
            dirs.len()
        )
        .into());
    }
    for (target, src) in files.iter().step_by((files.len() / 50).max(1)) {
        let found = fs::read_link(home.join(target))?;
        if found != sources.join(src.to_string()) {
            return Err(format!("{target} points to {}", found.display()).into());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The floor

struct Put {
    source: PathBuf,
    tmp: PathBuf,
    path: PathBuf,
}

fn put(home: &Path, target: &str, src: usize, sources: &Path) -> Put {
    let path = home.join(target);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    Put {
        source: sources.join(src.to_string()),
        tmp: path.with_file_name(format!(".floor-tmp-{name}")),
        path,
    }
}

fn put_all(puts: &[Put]) -> io::Result<()> {
    for p in puts {
        symlink(&p.source, &p.tmp)?;
        fs::rename(&p.tmp, &p.path)?;
    }
    Ok(())
}

struct FreshOps {
    mkdirs: Vec<PathBuf>,
    puts: Vec<Put>,
}

impl FreshOps {
    fn new(home: &Path, files: &Files, dirs: &BTreeSet<String>, sources: &Path) -> FreshOps {
        FreshOps {
            mkdirs: by_depth(dirs.iter().cloned())
                .iter()
                .map(|d| home.join(d))
                .collect(),
            puts: files
                .iter()
                .map(|(t, &s)| put(home, t, s, sources))
                .collect(),
        }
    }

    fn run(&self) -> io::Result<()> {
        for d in &self.mkdirs {
            fs::create_dir(d)?;
        }
        put_all(&self.puts)
    }
}

fn noop_floor(paths: &[PathBuf]) -> io::Result<()> {
    for p in paths {
        let m = fs::symlink_metadata(p)?;
        std::hint::black_box(m);
        std::hint::black_box(fs::read_link(p)?);
    }
    Ok(())
}

struct SwitchOps {
    look: Vec<PathBuf>,
    mkdirs: Vec<PathBuf>,
    puts: Vec<Put>,
    unlinks: Vec<PathBuf>,
    rmdirs: Vec<PathBuf>,
}

impl SwitchOps {
    fn new(
        home: &Path,
        s: &Scenario,
        dirs_a: &BTreeSet<String>,
        dirs_b: &BTreeSet<String>,
        sources: &Path,
    ) -> SwitchOps {
        let union: BTreeSet<&String> = s.a.keys().chain(s.b.keys()).collect();
        let mut rmdirs = by_depth(dirs_a.difference(dirs_b).cloned());
        rmdirs.reverse();
        SwitchOps {
            look: union.iter().map(|t| home.join(t)).collect(),
            mkdirs: by_depth(dirs_b.difference(dirs_a).cloned())
                .iter()
                .map(|d| home.join(d))
                .collect(),
            puts: s
                .b
                .iter()
                .filter(|(t, src)| s.a.get(*t) != Some(src))
                .map(|(t, &src)| put(home, t, src, sources))
                .collect(),
            unlinks: s
                .a
                .keys()
                .filter(|t| !s.b.contains_key(*t))
                .map(|t| home.join(t))
                .collect(),
            rmdirs: rmdirs.iter().map(|d| home.join(d)).collect(),
        }
    }

    fn run(&self) -> io::Result<()> {
        for p in &self.look {
            match fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    std::hint::black_box(fs::read_link(p)?);
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        for d in &self.mkdirs {
            fs::create_dir(d)?;
        }
        put_all(&self.puts)?;
        for p in &self.unlinks {
            fs::remove_file(p)?;
        }
        for d in &self.rmdirs {
            fs::remove_dir(d)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Output

fn report(
    rows: &[Row],
    peak_rss_10k: i64,
    filesystem: &str,
    built: &Built,
    bin: &Path,
    target: &Path,
) -> Result<()> {
    println!(
        "\nmedians; ratio = hearth / floor; peak RSS = largest ru_maxrss of hearth in that case"
    );
    println!(
        "{:>6}  {:<7} {:>5} {:>10} {:>10} {:>7}  {:>7}  result  peak RSS",
        "N", "case", "runs", "hearth ms", "floor ms", "ratio", "target"
    );
    let mut json_rows = Vec::new();
    for r in rows {
        let (h, f) = (median(&r.hearth), median(&r.floor));
        let ratio = h / f;
        let pass = ratio <= r.limit();
        println!(
            "{:>6}  {:<7} {:>5} {:>10.2} {:>10.2} {:>6.2}×  ≤ {:.1}×   {}    {:.1} MB",
            r.n,
            r.case,
            r.hearth.len(),
            h,
            f,
            ratio,
            r.limit(),
            if pass { "PASS" } else { "MISS" },
            r.max_rss_kb as f64 / 1024.0
        );
        let ms = |v: &[Duration]| -> Vec<f64> { v.iter().map(|d| d.as_secs_f64() * 1e3).collect() };
        json_rows.push(json!({
            "n": r.n,
            "case": r.case,
            "hearth_ms": h,
            "floor_ms": f,
            "ratio": ratio,
            "target_ratio": r.limit(),
            "pass": pass,
            "hearth_runs_ms": ms(&r.hearth),
            "floor_runs_ms": ms(&r.floor),
            "max_rss_kib": r.max_rss_kb,
        }));
    }
    let rss_mb = peak_rss_10k as f64 / 1024.0;
    let rss_pass = rss_mb < 50.0;
    println!(
        "peak RSS of hearth at N = 10000: {rss_mb:.1} MB (target < 50 MB) {}",
        if rss_pass { "PASS" } else { "MISS" }
    );
    let doc = json!({
        "filesystem": filesystem,
        "hearth": bin,
        "generations": built.generations,
        "results": json_rows,
        "peak_rss_mb_10k": rss_mb,
        "peak_rss_pass": rss_pass,
    });
    let out = target.join("bench-activate.json");
    fs::write(&out, serde_json::to_vec_pretty(&doc)?)?;
    println!("results: {}", out.display());
    Ok(())
}
