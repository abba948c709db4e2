//! Replays the committed corpus (and any crash files) through the targets on
//! stable Rust, without libFuzzer: `cargo test --manifest-path fuzz/Cargo.toml`.
//! With `HEARTH_FUZZ_LOOP=N` it also mutates the corpus for N rounds, a poor
//! fuzzer for machines without nightly.

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let data = std::fs::read(e.path()).unwrap();
            out.push((e.path().display().to_string(), data));
        }
    }
    out.sort();
    out
}

/// xorshift64*: deterministic mutations, reproducible from the round number.
fn mutate(data: &[u8], mut seed: u64) -> Vec<u8> {
    let mut next = move || {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut d = data.to_vec();
    for _ in 0..1 + next() % 4 {
        let at = if d.is_empty() {
            0
        } else {
            next() as usize % d.len()
        };
        match next() % 4 {
            0 if !d.is_empty() => d[at] = next() as u8,
            1 => d.insert(at, next() as u8),
            2 if !d.is_empty() => {
                d.remove(at);
            }
            _ if !d.is_empty() => {
                // Duplicate a slice: JSON structure and decoded entries repeat.
                let end = (at + 1 + next() as usize % 16).min(d.len());
                let chunk = d[at..end].to_vec();
                let to = next() as usize % (d.len() + 1);
                d.splice(to..to, chunk);
            }
            _ => d.push(next() as u8),
        }
    }
    d
}

fn run(target: &str, f: fn(&[u8])) {
    let corpus = inputs(target);
    assert!(!corpus.is_empty(), "no corpus for {target}");
    for (name, data) in &corpus {
        if std::panic::catch_unwind(|| f(data)).is_err() {
            panic!("{target}: {name} fails");
        }
    }
    let rounds: u64 = std::env::var("HEARTH_FUZZ_LOOP").map_or(0, |n| n.parse().unwrap());
    for round in 0..rounds {
        let (_, base) = &corpus[round as usize % corpus.len()];
        let data = mutate(base, round.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        if std::panic::catch_unwind(|| f(&data)).is_err() {
            panic!("{target}: round {round} fails on {data:?}");
        }
    }
}

#[test]
fn manifest() {
    run("manifest", hearth_fuzz::manifest);
}

#[test]
fn planner() {
    run("planner", hearth_fuzz::planner);
}
