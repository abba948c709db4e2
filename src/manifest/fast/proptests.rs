//! The fast reader against serde, over proptest-generated manifests
//! written in many ways (serde's compact and pretty output, sorted keys as
//! Nix writes them, keys shuffled and whitespace anywhere, and documents
//! broken on purpose): it may refuse a document, but what it reads is what
//! serde reads, and it reads every document serde reads that has no escape.

use std::cell::Cell;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use std::path::Path;
use std::sync::Arc;

use super::parse;
use crate::manifest::{After, FileEntry, FileType, Manifest, RelPath, Step};
use crate::sys::fxhash::FxHashMap;

/// Strings: mostly plain, some Unicode, some with what JSON escapes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        32 => "[a-z0-9/._ -]{0,20}",
        8 => "[a-zé漢🦀\u{7f}\u{2028} ]{0,8}",
        1 => "[a-z\"\\\\/\n\t\u{1}\u{1f}]{0,6}",
        1 => any::<String>(),
    ]
}

fn file() -> impl Strategy<Value = FileEntry> {
    (
        text(),
        text(),
        any::<bool>(),
        option::of(text()),
        any::<bool>(),
        option::of(text()),
    )
        .prop_map(|(target, source, copy, mode, force, on_change)| FileEntry {
            target: target.into(),
            source: std::path::Path::new(&source).into(),
            kind: if copy {
                FileType::Copy
            } else {
                FileType::Symlink
            },
            mode,
            force,
            on_change: on_change.map(Into::into),
        })
}

fn step() -> impl Strategy<Value = Step> {
    (text(), 0..3u8, text()).prop_map(|(name, after, script)| Step {
        name,
        after: [After::Check, After::Linked, After::Files][usize::from(after)],
        script: script.into(),
    })
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        prop_oneof![3 => Just(1u32), 1 => any::<u32>()],
        text(),
        text(),
        option::of(text()),
        vec(file(), 0..4),
        option::of(text()),
        option::of(text()),
        vec(step(), 0..3),
    )
        .prop_map(
            |(
                version,
                user,
                home,
                backup_extension,
                files,
                packages,
                system_packages,
                activation,
            )| {
                Manifest {
                    version,
                    user,
                    home: home.into(),
                    backup_extension,
                    files,
                    packages: packages.map(Into::into),
                    system_packages: system_packages.map(Into::into),
                    activation,
                }
            },
        )
}

/// A small deterministic source of choices, seeded by proptest.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        usize::try_from(x >> 33).unwrap() % n
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len())]
    }
}

/// A JSON document as this test writes it, keys in any order.
enum Json {
    /// A scalar, as written.
    Raw(String),
    Object(Fields),
    Array(Vec<Json>),
}

type Fields = Vec<(String, Json)>;

fn string(s: &str) -> Json {
    Json::Raw(serde_json::to_string(s).unwrap())
}

fn raw(s: &str) -> Json {
    Json::Raw(s.to_string())
}

/// An object's fields: the optional ones sometimes left out, sometimes
/// written as their default; in a shuffled order.
fn object(rng: &mut Rng, fields: Vec<(&str, Json, bool)>) -> Json {
    let mut kept: Fields = fields
        .into_iter()
        .filter(|(_, _, default)| !*default || rng.one_in(2))
        .map(|(k, v, _)| (k.to_string(), v))
        .collect();
    for i in (1..kept.len()).rev() {
        kept.swap(i, rng.below(i + 1));
    }
    Json::Object(kept)
}

fn nullable<T: AsRef<str>>(v: Option<&T>) -> Json {
    v.map_or_else(|| raw("null"), |s| string(s.as_ref()))
}

fn path(p: Option<&std::path::PathBuf>) -> Json {
    nullable(p.map(|p| p.to_str().unwrap()).as_ref())
}

fn to_json(m: &Manifest, rng: &mut Rng) -> Json {
    let files = m
        .files
        .iter()
        .map(|f| {
            object(
                rng,
                vec![
                    ("target", string(&f.target), false),
                    ("source", path(Some(&f.source.to_path_buf())), false),
                    (
                        "type",
                        raw(match f.kind {
                            FileType::Symlink => "\"symlink\"",
                            FileType::Copy => "\"copy\"",
                        }),
                        false,
                    ),
                    ("mode", nullable(f.mode.as_ref()), f.mode.is_none()),
                    (
                        "force",
                        raw(if f.force { "true" } else { "false" }),
                        !f.force,
                    ),
                    (
                        "onChange",
                        path(f.on_change.as_ref()),
                        f.on_change.is_none(),
                    ),
                ],
            )
        })
        .collect();
    let steps = m
        .activation
        .iter()
        .map(|s| {
            let after = match s.after {
                After::Check => "\"check\"",
                After::Linked => "\"linked\"",
                After::Files => "\"files\"",
            };
            object(
                rng,
                vec![
                    ("name", string(&s.name), false),
                    ("after", raw(after), false),
                    ("script", path(Some(&s.script)), false),
                ],
            )
        })
        .collect();
    object(
        rng,
        vec![
            ("version", raw(&m.version.to_string()), false),
            ("user", string(&m.user), false),
            ("home", path(Some(&m.home)), false),
            (
                "backupExtension",
                nullable(m.backup_extension.as_ref()),
                m.backup_extension.is_none(),
            ),
            ("files", Json::Array(files), false),
            ("packages", path(m.packages.as_ref()), m.packages.is_none()),
            (
                "systemPackages",
                path(m.system_packages.as_ref()),
                m.system_packages.is_none(),
            ),
            ("activation", Json::Array(steps), m.activation.is_empty()),
        ],
    )
}

/// How many objects `j` holds, itself included.
fn count_objects(j: &Json) -> usize {
    match j {
        Json::Raw(_) => 0,
        Json::Object(fields) => 1 + fields.iter().map(|(_, v)| count_objects(v)).sum::<usize>(),
        Json::Array(items) => items.iter().map(count_objects).sum(),
    }
}

/// Calls `f` on the fields of the `n`th object of `j` (depth first).
fn nth_object(j: &mut Json, n: &mut usize, f: &mut dyn FnMut(&mut Fields)) {
    match j {
        Json::Raw(_) => {}
        Json::Object(fields) => {
            if *n == 0 {
                f(fields);
                *n = usize::MAX;
                return;
            }
            *n -= 1;
            for (_, v) in fields.iter_mut() {
                nth_object(v, n, f);
            }
        }
        Json::Array(items) => {
            for v in items {
                nth_object(v, n, f);
            }
        }
    }
}

/// Breaks (or not: `null` where an option is, a string where a string
/// is) one object of the document: a key more, twice, or less, a value of
/// another type, a string written without its escapes.
fn mutate(j: &mut Json, rng: &mut Rng) {
    let objects = count_objects(j);
    let mut n = rng.below(objects);
    let (what, at) = (rng.below(6), rng.below(16));
    let value = rng.pick(&[
        "1",
        "0",
        "-1",
        "-0",
        "1.0",
        "1e0",
        "01",
        "4294967296",
        "4294967295",
        "\"x\"",
        "\"symlink\"",
        "\"files\"",
        "true",
        "false",
        "null",
        "[]",
        "{}",
        "[{}]",
        "nul",
        "tru",
        "\"a\\\"b\"",
    ]);
    // Some end where a string would (`"a\` then `,"next":…`).
    let unescaped = rng.pick(&[
        "\"a\"b\"",
        "\"a\\b\"",
        "\"a\nb\"",
        "\"a\u{1}b\"",
        "\"a\u{7f}b\"",
        "\"a\\",
        "\"a\u{1}",
        "\"a\t",
    ]);
    let key = rng.pick(&[
        "extra",
        "Version",
        "vers\\u0069on",
        "",
        "version",
        "files",
        "type",
    ]);
    nth_object(j, &mut n, &mut |fields| {
        let len = fields.len();
        match what {
            0 => fields.insert(at % (len + 1), (key.to_string(), raw(value))),
            1 if len > 0 => {
                let (k, v) = &fields[at % len];
                let again = (k.clone(), copy(v));
                fields.insert(at % (len + 1), again);
            }
            2 if len > 0 => {
                fields.remove(at % len);
            }
            3 | 4 if len > 0 => fields[at % len].1 = raw(value),
            _ if len > 0 => fields[at % len].1 = raw(unescaped),
            _ => {}
        }
    });
}

fn copy(j: &Json) -> Json {
    match j {
        Json::Raw(s) => Json::Raw(s.clone()),
        Json::Object(fields) => {
            Json::Object(fields.iter().map(|(k, v)| (k.clone(), copy(v))).collect())
        }
        Json::Array(items) => Json::Array(items.iter().map(copy).collect()),
    }
}

/// Writes `j` with whitespace between tokens, as much as `spaces` says.
fn write(j: &Json, rng: &mut Rng, spaces: usize, out: &mut String) {
    let ws = |rng: &mut Rng, out: &mut String| {
        if rng.below(4) < spaces {
            out.push_str(rng.pick(&[" ", "\n", "\t", "\r\n", "\n    ", "  "]));
        }
    };
    match j {
        Json::Raw(s) => out.push_str(s),
        Json::Object(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                out.push('"');
                out.push_str(k);
                out.push('"');
                ws(rng, out);
                out.push(':');
                ws(rng, out);
                write(v, rng, spaces, out);
                ws(rng, out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                write(v, rng, spaces, out);
                ws(rng, out);
            }
            out.push(']');
        }
    }
}

/// `m` as text, in the way `how` and `seed` choose.
fn written(m: &Manifest, how: u8, seed: u64) -> String {
    match how {
        0 => serde_json::to_string(m).unwrap(),
        1 => serde_json::to_string_pretty(m).unwrap() + "\n",
        // Keys sorted, as Nix writes them.
        2 => serde_json::to_value(m).unwrap().to_string(),
        _ => {
            let mut rng = Rng(seed | 1);
            let mut j = to_json(m, &mut rng);
            let broken = rng.one_in(2);
            if broken {
                mutate(&mut j, &mut rng);
            }
            let mut out = String::new();
            let spaces = rng.below(4);
            if rng.one_in(4) {
                out.push_str(rng.pick(&[" ", "\n", "\t"]));
            }
            write(&j, &mut rng, spaces, &mut out);
            if broken && rng.one_in(4) {
                out.push_str(rng.pick(&["x", "}", "]", ",", "{}", "\u{a0}", "\u{0}"]));
            } else if rng.one_in(4) {
                out.push_str(rng.pick(&[" ", "\n", "\r\n\t"]));
            }
            out
        }
    }
}

/// Cases per run; `HEARTH_PROPTEST_CASES` raises it for a longer hunt.
fn cases() -> u32 {
    std::env::var("HEARTH_PROPTEST_CASES").map_or(5_000, |n| n.parse().unwrap())
}

#[test]
fn reads_what_serde_reads() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        max_shrink_iters: 10_000,
        ..Config::default()
    });
    // Read here; read by serde only (escapes); refused by both.
    let (fast, serde_only, refused) = (Cell::new(0u32), Cell::new(0u32), Cell::new(0u32));
    let result = runner.run(&(manifest(), 0..8u8, any::<u64>()), |(m, how, seed)| {
        let text = written(&m, how, seed);
        // Sharing with what a caller holds changes no value read.
        let held = held(&m, seed);
        let ours = parse(&text, &|t| held.get(t).map(|(p, l)| (p, l.as_ref())));
        let theirs = serde_json::from_str::<Manifest>(&text).ok();
        match (&ours, &theirs) {
            (Some(_), _) if ours != theirs => {
                return Err(TestCaseError::fail(format!(
                    "read {ours:?}\nserde {theirs:?}\ntext {text}"
                )))
            }
            (Some(_), _) => fast.set(fast.get() + 1),
            (None, Some(_)) if !text.contains('\\') => {
                return Err(TestCaseError::fail(format!(
                    "refused a document without escapes that serde reads: {text}"
                )))
            }
            (None, Some(_)) => serde_only.set(serde_only.get() + 1),
            (None, None) => refused.set(refused.get() + 1),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Each outcome must be common, or the property says little.
    let n = cases() / 10;
    assert!(
        fast.get() > 3 * n && serde_only.get() > n && refused.get() > n,
        "{} read, {} serde's, {} refused",
        fast.get(),
        serde_only.get(),
        refused.get()
    );
    eprintln!(
        "reads_what_serde_reads: {} cases, {} read, {} serde's, {} refused",
        cases(),
        fast.get(),
        serde_only.get(),
        refused.get()
    );
}

/// What a caller might hold of `m`'s files: some targets (those given
/// normalized, as a record holds them), with the same link, another
/// link, or none, as `seed` picks.
fn held(m: &Manifest, seed: u64) -> FxHashMap<String, (RelPath, Option<Arc<Path>>)> {
    let mut held = FxHashMap::default();
    for (i, f) in m.files.iter().enumerate() {
        let pick = (seed >> ((2 * i) % 64)) & 3;
        let Ok(path) = RelPath::parse(&f.target) else {
            continue;
        };
        if pick == 0 || path.as_str() != &*f.target {
            continue;
        }
        let link = match pick {
            1 => Some(Arc::from(Path::new(&*f.source.to_string_lossy()))),
            2 => Some(Arc::from(Path::new("/nix/store/another"))),
            _ => None,
        };
        held.insert(f.target.to_string(), (path, link));
    }
    held
}
