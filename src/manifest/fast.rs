//! A fast reader for manifest.json as hearth and Nix write it: one JSON
//! object whose strings have no escapes. It must never read a document
//! otherwise than serde does: whatever it does not fully understand it
//! leaves to serde (`None`), which then reads it, or says what is wrong,
//! exactly as before.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{After, FileEntry, FileType, Known, Manifest, Step};
use crate::sys::json::{quote, special};

/// The manifest in `text`, equal to what `serde_json::from_str::<Manifest>`
/// returns, or None when `text` is anything but a document this reader
/// fully understands: a string with an escape, an unknown or repeated key,
/// a missing field, a wrong type, anything after the object. A file's
/// target and source that `known` already holds are shared from there.
pub(super) fn parse(text: &str, known: Known) -> Option<Manifest> {
    let mut r = Reader { text, at: 0, known };
    let m = r.manifest()?;
    r.ws();
    (r.at == text.len()).then_some(m)
}

/// About the bytes a file entry takes in a manifest: a store path, a
/// target and six keys. Only a capacity hint; a wrong guess costs a
/// reallocation or untouched pages, never a wrong answer.
const BYTES_PER_FILE: usize = 150;

struct Reader<'a, 'k> {
    text: &'a str,
    at: usize,
    known: Known<'k>,
}

impl<'a> Reader<'a, '_> {
    fn manifest(&mut self) -> Option<Manifest> {
        let mut version = None;
        let mut user = None;
        let mut home = None;
        let mut backup_extension = None;
        let mut files = None;
        let mut packages = None;
        let mut system_packages = None;
        let mut activation = None;
        self.object(|r, key| match key {
            b"version" => once(&mut version, r.u32()),
            b"user" => once(&mut user, r.string()),
            b"home" => once(&mut home, r.path()),
            b"backupExtension" => once(&mut backup_extension, r.nullable(Self::string)),
            b"files" => {
                let capacity = r.text.len() / BYTES_PER_FILE;
                once(&mut files, r.array(capacity, Self::file))
            }
            b"packages" => once(&mut packages, r.nullable(Self::path)),
            b"systemPackages" => once(&mut system_packages, r.nullable(Self::path)),
            b"activation" => once(&mut activation, r.array(0, Self::step)),
            _ => None,
        })?;
        Some(Manifest {
            version: version?,
            user: user?,
            home: home?,
            backup_extension: backup_extension.flatten(),
            files: files?,
            packages: packages.flatten(),
            system_packages: system_packages.flatten(),
            activation: activation.unwrap_or_default(),
        })
    }

    fn file(&mut self) -> Option<FileEntry> {
        let mut target = None;
        let mut source = None;
        let mut kind = None;
        let mut mode = None;
        let mut force = None;
        let mut on_change = None;
        self.object(|r, key| match key {
            b"target" => once(&mut target, r.str()),
            b"source" => once(&mut source, r.str()),
            b"type" => once(&mut kind, r.file_type()),
            b"mode" => once(&mut mode, r.nullable(Self::string)),
            b"force" => once(&mut force, r.bool()),
            b"onChange" => once(&mut on_change, r.nullable(Self::path)),
            _ => None,
        })?;
        let (target, source) = (target?, source?);
        // The applied generation's path and link at this target, when it
        // has them: a switch keeps most of both.
        let (held, link) = (self.known)(target).unzip();
        let source = match link.flatten() {
            Some(l) if l.as_os_str().as_encoded_bytes() == source.as_bytes() => Arc::clone(l),
            _ => Arc::from(Path::new(source)),
        };
        Some(FileEntry {
            target: held.map_or_else(|| Arc::from(target), |p| Arc::clone(p.as_arc())),
            source,
            kind: kind?,
            mode: mode.flatten(),
            force: force.unwrap_or(false),
            on_change: on_change.flatten(),
        })
    }

    fn file_type(&mut self) -> Option<FileType> {
        if self.word(b"\"symlink\"") {
            Some(FileType::Symlink)
        } else if self.word(b"\"copy\"") {
            Some(FileType::Copy)
        } else {
            None
        }
    }

    fn step(&mut self) -> Option<Step> {
        let mut name = None;
        let mut after = None;
        let mut script = None;
        self.object(|r, key| match key {
            b"name" => once(&mut name, r.string()),
            b"after" => once(&mut after, r.after()),
            b"script" => once(&mut script, r.path()),
            _ => None,
        })?;
        Some(Step {
            name: name?,
            after: after?,
            script: script?,
        })
    }

    fn after(&mut self) -> Option<After> {
        if self.word(b"\"check\"") {
            Some(After::Check)
        } else if self.word(b"\"linked\"") {
            Some(After::Linked)
        } else if self.word(b"\"files\"") {
            Some(After::Files)
        } else {
            None
        }
    }

    /// An object: `field` reads the value of each key, in the order given,
    /// or is None for a key it does not know.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.name()?;
            self.eat(b':')?;
            field(self, key)?;
            match self.next()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    fn array<T>(
        &mut self,
        capacity: usize,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        self.eat(b'[')?;
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(Vec::new());
        }
        let mut items = Vec::with_capacity(capacity);
        loop {
            items.push(item(self)?);
            match self.next()? {
                b',' => {}
                b']' => return Some(items),
                _ => return None,
            }
        }
    }

    /// `null` (read as None) or what `value` reads.
    #[expect(
        clippy::option_option,
        reason = "the outer None is a document this reader refuses, the inner a null"
    )]
    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.word(b"null") {
            return Some(None);
        }
        value(self).map(Some)
    }

    fn bool(&mut self) -> Option<bool> {
        if self.word(b"true") {
            Some(true)
        } else if self.word(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// A plain integer that fits a u32. JSON refuses leading zeros; a
    /// sign, fraction or exponent, which serde refuses for a u32 (or reads
    /// only as a float), goes serde's way too.
    fn u32(&mut self) -> Option<u32> {
        self.ws();
        let digits = self.text.as_bytes().get(self.at..)?;
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || (len > 1 && digits.first() == Some(&b'0')) {
            return None;
        }
        let digits = digits.get(..len)?;
        self.at += len;
        digits.iter().try_fold(0u32, |n, d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    }

    /// A string value, owned: one allocation of exactly its length.
    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    fn path(&mut self) -> Option<PathBuf> {
        self.string().map(PathBuf::from)
    }

    /// A key, which the caller compares with the names it knows. Finding
    /// its closing quote is enough: a string with an escape or a control
    /// character equals no name, and goes serde's way.
    fn name(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let bytes = self.text.as_bytes();
        let start = self.at;
        let end = start + quote(bytes.get(start..)?)?;
        self.at = end + 1;
        bytes.get(start..end)
    }

    /// A string, borrowed from the text. One with an escape is left to
    /// serde, which decodes it; a raw control character is refused by JSON.
    fn str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let bytes = self.text.as_bytes();
        let end = start + special(bytes.get(start..)?)?;
        if bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        self.text.get(start..end)
    }

    /// Whether the next token is `word` (`null`, `true`, a variant in its
    /// quotes), then consumed. What follows it is checked by the caller,
    /// which expects `,`, `}` or `]`.
    fn word(&mut self, word: &[u8]) -> bool {
        if self.peek().is_none() {
            return false;
        }
        let found = self
            .text
            .as_bytes()
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(word));
        if found {
            self.at += word.len();
        }
        found
    }

    /// The next byte after whitespace, consumed.
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        let b = *self.text.as_bytes().get(self.at)?;
        if b > b' ' {
            // No whitespace, as Nix writes it: the common case, first.
            return Some(b);
        }
        self.ws();
        self.text.as_bytes().get(self.at).copied()
    }

    /// Skips JSON's whitespace, the four bytes `serde_json` skips.
    fn ws(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
    }
}

/// Fills a field's slot; a key given twice is refused, as serde refuses it.
fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    slot.replace(value?).is_none().then_some(())
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` read both ways: the fast reader may refuse, but what it
    /// reads must be what serde reads.
    fn fast(text: &str) -> Option<Manifest> {
        let fast = parse(text, &|_| None);
        if fast.is_some() {
            assert_eq!(fast, serde_json::from_str(text).ok(), "{text}");
        }
        fast
    }

    fn read(text: &str) -> Manifest {
        fast(text).unwrap_or_else(|| panic!("the fast reader refused {text}"))
    }

    fn refused(text: &str) {
        assert_eq!(parse(text, &|_| None), None, "{text}");
    }

    /// As `builtins.toJSON` writes it: keys sorted, no whitespace, raw
    /// UTF-8. The first entries are those of the benchmark's generations.
    const NIX: &str = concat!(
        r#"{"activation":[{"after":"check","name":"checkDisk","script":"/nix/store/aaaa-checkDisk"},"#,
        r#"{"after":"linked","name":"link","script":"/nix/store/bbbb-link"},"#,
        r#"{"after":"files","name":"reload","script":"/nix/store/cccc-reload"}],"#,
        r#""backupExtension":"bak","#,
        r#""files":[{"force":false,"mode":null,"onChange":null,"source":"/nix/store/amd1q82rn49z9q9ww6wk5djrxxyjnwlp-hearth-bench-sources/591","target":".app10.d/f0.conf","type":"symlink"},"#,
        r#"{"force":false,"mode":null,"onChange":null,"source":"/nix/store/amd1q82rn49z9q9ww6wk5djrxxyjnwlp-hearth-bench-sources/592","target":".app10.d/f1.conf","type":"symlink"},"#,
        r#"{"force":true,"mode":"0600","onChange":"/nix/store/dddd-gen/on-change/netrc","source":"/nix/store/x0a2-netrc","target":".netrc","type":"copy"},"#,
        r#"{"force":false,"mode":null,"onChange":null,"source":"/nix/store/eeee-été 漢字 🦀","target":"Documents/été/漢字 🦀.txt","type":"symlink"}],"#,
        r#""home":"/home/alice","packages":"/nix/store/ffff-home-packages","systemPackages":null,"user":"alice","version":1}"#
    );

    #[test]
    fn reads_what_nix_writes() {
        let m = read(NIX);
        assert_eq!(m.files.len(), 4);
        assert_eq!(m.files[2].mode.as_deref(), Some("0600"));
        assert_eq!(&*m.files[3].target, "Documents/été/漢字 🦀.txt");
        assert_eq!(
            m.activation.iter().map(|s| s.after).collect::<Vec<_>>(),
            [After::Check, After::Linked, After::Files]
        );
        // Optional fields left out, as older generations do.
        let m = read(
            r#"{"files":[{"source":"/nix/store/a","target":"a","type":"copy"}],"home":"/h","user":"u","version":1}"#,
        );
        assert_eq!(
            (m.files[0].force, &m.files[0].mode, &m.activation),
            (false, &None, &Vec::new())
        );
        read(r#"{"files":[],"home":"/h","user":"u","version":1}"#);
    }

    /// A target and link the caller holds are shared, not read again; a
    /// link that differs from the source is not.
    #[test]
    fn shares_the_targets_and_links_it_is_given() {
        use crate::manifest::RelPath;
        let (f0, f1) = (
            RelPath::parse(".app10.d/f0.conf").unwrap(),
            RelPath::parse(".app10.d/f1.conf").unwrap(),
        );
        let same: Arc<Path> =
            Path::new("/nix/store/amd1q82rn49z9q9ww6wk5djrxxyjnwlp-hearth-bench-sources/591")
                .into();
        let other: Arc<Path> = Path::new("/nix/store/other").into();
        let known = |t: &str| match t {
            ".app10.d/f0.conf" => Some((&f0, Some(&same))),
            ".app10.d/f1.conf" => Some((&f1, Some(&other))),
            _ => None,
        };
        let m = parse(NIX, &known).unwrap();
        assert_eq!(m, serde_json::from_str(NIX).unwrap());
        assert!(Arc::ptr_eq(&m.files[0].target, f0.as_arc()));
        assert!(Arc::ptr_eq(&m.files[0].source, &same));
        assert!(Arc::ptr_eq(&m.files[1].target, f1.as_arc()));
        assert!(!Arc::ptr_eq(&m.files[1].source, &other));
        assert!(!Arc::ptr_eq(&m.files[2].source, &same));
    }

    /// What `hearth build` writes: serde's pretty printing, in the
    /// fields' order, and a newline.
    #[test]
    fn reads_what_hearth_build_writes() {
        let m = read(NIX);
        let pretty = serde_json::to_string_pretty(&m).unwrap() + "\n";
        assert!(pretty.contains("\n  \"files\": [\n    {\n      \"target\""));
        assert_eq!(read(&pretty), m);
        assert_eq!(read(&serde_json::to_string(&m).unwrap()), m);
    }

    #[test]
    fn whitespace_anywhere_between_tokens() {
        let m = read(NIX);
        for ws in [" ", "\n", "\t", "\r\n", " \t\r\n "] {
            // Around every structural byte; strings hold none of them.
            let mut spaced = String::from(ws);
            let mut in_string = false;
            for c in NIX.chars() {
                if c == '"' {
                    in_string = !in_string;
                }
                if !in_string && matches!(c, '{' | '}' | '[' | ']' | ':' | ',') {
                    spaced.push_str(ws);
                    spaced.push(c);
                    spaced.push_str(ws);
                } else {
                    spaced.push(c);
                }
            }
            assert_eq!(read(&spaced), m, "{spaced}");
        }
        // Other space is no JSON whitespace.
        refused(&format!("\u{a0}{NIX}"));
        refused(&format!("\u{feff}{NIX}"));
        refused(&NIX.replacen(',', "\u{b},", 1));
    }

    #[test]
    fn keys_in_any_order() {
        let file = [
            r#""target":"a""#,
            r#""source":"/s""#,
            r#""type":"copy""#,
            r#""mode":"0644""#,
            r#""force":true"#,
            r#""onChange":"/h""#,
        ];
        let step = [r#""name":"n""#, r#""after":"linked""#, r#""script":"/x""#];
        let top = |file: &str, step: &str| {
            [
                r#""version":1"#.to_string(),
                r#""user":"u""#.into(),
                r#""home":"/h""#.into(),
                r#""backupExtension":"bak""#.into(),
                format!(r#""files":[{{{file}}}]"#),
                r#""packages":null"#.into(),
                r#""systemPackages":"/p""#.into(),
                format!(r#""activation":[{{{step}}}]"#),
            ]
        };
        let want = read(&format!(
            "{{{}}}",
            top(&file.join(","), &step.join(",")).join(",")
        ));
        for turn in 0..8 {
            let (mut f, mut s) = (file, step);
            f.rotate_left(turn % 6);
            s.rotate_left(turn % 3);
            if turn % 2 == 1 {
                f.reverse();
            }
            let mut t = top(&f.join(","), &s.join(","));
            t.rotate_left(turn);
            t.swap(0, turn % 8);
            assert_eq!(read(&format!("{{{}}}", t.join(","))), want);
        }
    }

    /// Each file and step field, as serde reads it: `null` for the
    /// optional ones, each variant.
    #[test]
    fn every_field() {
        let entry = |fields: &str| {
            format!(
                r#"{{"version":1,"user":"u","home":"/h","files":[{{"target":"t","source":"/s",{fields}}}]}}"#
            )
        };
        let f = |fields: &str| read(&entry(fields)).files.remove(0);
        assert_eq!(f(r#""type":"symlink""#).kind, FileType::Symlink);
        assert_eq!(f(r#""type":"copy""#).kind, FileType::Copy);
        assert_eq!(f(r#""type":"copy","mode":null"#).mode, None);
        assert!(!f(r#""type":"copy","force":false"#).force);
        assert!(f(r#""type":"copy","force":true"#).force);
        assert_eq!(f(r#""type":"copy","onChange":null"#).on_change, None);
        assert_eq!(
            f(r#""type":"copy","onChange":"/x""#).on_change,
            Some("/x".into())
        );
        let top = |fields: &str| {
            read(&format!(
                r#"{{"version":1,"user":"u","home":"/h","files":[],{fields}}}"#
            ))
        };
        assert_eq!(top(r#""backupExtension":null"#).backup_extension, None);
        assert_eq!(top(r#""packages":"/p""#).packages, Some("/p".into()));
        assert_eq!(
            top(r#""systemPackages":"/p""#).system_packages,
            Some("/p".into())
        );
        assert_eq!(top(r#""activation":[]"#).activation, []);
        assert_eq!(top(r#""packages":"""#).packages, Some("".into()));
        assert_eq!(
            read(r#"{"version":0,"user":"","home":"","files":[]}"#).version,
            0
        );
        assert_eq!(
            read(r#"{"version":4294967295,"user":"u","home":"/h","files":[]}"#).version,
            u32::MAX
        );
    }

    #[test]
    fn refuses_what_it_does_not_fully_understand() {
        let doc = |s: &str| format!(r#"{{"version":1,"user":"u","home":"/h",{s}}}"#);
        let file = |s: &str| doc(&format!(r#""files":[{{"target":"t","source":"/s",{s}}}]"#));
        let step = |s: &str| {
            doc(&format!(
                r#""files":[],"activation":[{{"name":"n","script":"/x",{s}}}]"#
            ))
        };
        let cases = [
            // Unknown keys, at each level.
            doc(r#""files":[],"extra":null"#),
            file(r#""type":"copy","executable":null"#),
            file(r#""type":"copy","definedBy":"x""#),
            step(r#""after":"check","text":"x""#),
            // Keys given twice.
            doc(r#""files":[],"user":"v""#),
            doc(r#""files":[],"files":[]"#),
            file(r#""type":"copy","type":"copy""#),
            file(r#""type":"copy","mode":null,"mode":"0600""#),
            step(r#""after":"check","after":"files""#),
            // Missing fields.
            r#"{"user":"u","home":"/h","files":[]}"#.into(),
            r#"{"version":1,"home":"/h","files":[]}"#.into(),
            r#"{"version":1,"user":"u","files":[]}"#.into(),
            doc(r#""packages":null"#),
            doc(r#""files":[{"source":"/s","type":"copy"}]"#),
            doc(r#""files":[{"target":"t","type":"copy"}]"#),
            file(r#""force":true"#),
            doc(r#""files":[],"activation":[{"after":"check","script":"/x"}]"#),
            // Wrong types.
            r#"{"version":"1","user":"u","home":"/h","files":[]}"#.into(),
            doc(r#""files":{}"#),
            doc(r#""files":null"#),
            doc(r#""files":[],"activation":null"#),
            doc(r#""files":[],"backupExtension":1"#),
            doc(r#""files":[[]]"#),
            doc(r#""files":["t"]"#),
            file(r#""type":"link""#),
            file(r#""type":null"#),
            file(r#""type":"copy","force":"true""#),
            file(r#""type":"copy","force":null"#),
            file(r#""type":"copy","force":1"#),
            file(r#""type":"copy","mode":420"#),
            step(r#""after":"onChange""#),
            step(r#""after":"Check""#),
            // Versions serde refuses for a u32, or reads only as a float.
            r#"{"version":1.0,"user":"u","home":"/h","files":[]}"#.into(),
            r#"{"version":1e0,"user":"u","home":"/h","files":[]}"#.into(),
            r#"{"version":-1,"user":"u","home":"/h","files":[]}"#.into(),
            r#"{"version":-0,"user":"u","home":"/h","files":[]}"#.into(),
            r#"{"version":+1,"user":"u","home":"/h","files":[]}"#.into(),
            r#"{"version":01,"user":"u","home":"/h","files":[]}"#.into(),
            r#"{"version":4294967296,"user":"u","home":"/h","files":[]}"#.into(),
            r#"{"version":99999999999999999999999,"user":"u","home":"/h","files":[]}"#.into(),
            // Not JSON, or not all of it.
            String::new(),
            " ".into(),
            "[]".into(),
            "null".into(),
            doc(r#""files":[],"#),
            doc(r#""files":[{"target":"t","source":"/s","type":"copy"},]"#),
            doc(r#""files":[]"#) + "}",
            doc(r#""files":[]"#) + "x",
            doc(r#""files":[]"#) + " ,",
            doc(r#""files":[]"#) + &doc(r#""files":[]"#),
            doc(r#""files":[]"#).replace(':', " "),
            doc(r#""files":[]"#).replace(':', ";"),
            doc(r#""files":[]"#).replace(',', ";"),
            file(r#""type":"copy","force":truex"#),
            file(r#""type":"copy","force":tru"#),
            file(r#""type":"copy","mode":nul"#),
            file(r#""type":"copy","mode":nullx"#),
            file(r#""type":"copy""source":"/t""#),
            file(r#""type":"copy"x"#),
        ];
        for text in &cases {
            refused(text);
            // Each is a document serde refuses too: the error messages
            // stay serde's.
            assert!(serde_json::from_str::<Manifest>(text).is_err(), "{text}");
        }
    }

    /// Shapes serde reads besides the one it writes are left to it: a
    /// struct as an array of its fields, a variant as a map.
    #[test]
    fn other_shapes_go_serdes_way() {
        let doc =
            |files: &str| format!(r#"{{"version":1,"user":"u","home":"/h","files":[{files}]}}"#);
        for text in [
            doc(r#"{"target":"t","source":"/s","type":{"copy":null}}"#),
            doc(r#"["t","/s","copy",null,false,null]"#),
            r#"[1,"u","/h",null,[]]"#.to_string(),
        ] {
            refused(&text);
            assert!(serde_json::from_str::<Manifest>(&text).is_ok(), "{text}");
        }
    }

    /// Escapes are serde's to decode, and a raw control character is no
    /// JSON: serde refuses it and says where.
    #[test]
    fn escapes_and_control_characters_go_serdes_way() {
        let with_user =
            |user: &str| format!(r#"{{"version":1,"user":"{user}","home":"/h","files":[]}}"#);
        for escaped in [
            r#"a\"b"#,
            r"a\\b",
            r"a\/b",
            r"\n",
            r"\u0041",
            r"\ud83e\udd80",
        ] {
            let text = with_user(escaped);
            refused(&text);
            assert!(serde_json::from_str::<Manifest>(&text).is_ok(), "{text}");
        }
        // A key or a variant with an escape is no name this reader knows.
        refused(r#"{"vers\u0069on":1,"user":"u","home":"/h","files":[]}"#);
        refused(
            r#"{"version":1,"user":"u","home":"/h","files":[{"target":"t","source":"/s","type":"cop\u0079"}]}"#,
        );
        for c in ['\0', '\u{1}', '\n', '\t', '\r', '\u{1f}'] {
            let text = with_user(&format!("a{c}b"));
            refused(&text);
            assert!(serde_json::from_str::<Manifest>(&text).is_err(), "{text:?}");
            refused(&format!(
                r#"{{"vers{c}ion":1,"user":"u","home":"/h","files":[]}}"#
            ));
        }
        // Neither ends a string, even where what follows would read well.
        for c in ['\\', '\u{1}', '\n'] {
            refused(&format!(
                r#"{{"version":1,"user":"u{c},"home":"/h","files":[]}}"#
            ));
        }
        // DEL and the Unicode line separators are plain characters.
        assert_eq!(
            read(&with_user("a\u{7f}\u{2028}b")).user,
            "a\u{7f}\u{2028}b"
        );
    }

    /// Cut anywhere, a manifest is refused, and never read past its end.
    #[test]
    fn every_prefix_is_refused() {
        let pretty = serde_json::to_string_pretty(&read(NIX)).unwrap();
        for text in [NIX, pretty.as_str()] {
            for (end, _) in text.char_indices() {
                refused(&text[..end]);
            }
        }
    }

    /// A version other than 1 is read here, and refused by name where the
    /// manifest is parsed, as before.
    #[test]
    fn another_version_is_refused_by_name() {
        let text = r#"{"version":2,"user":"u","home":"/h","files":[]}"#;
        assert_eq!(read(text).version, 2);
        let (at, msg) = super::super::parse(text).unwrap_err();
        assert_eq!(at, "version");
        assert!(msg.starts_with("unsupported manifest version 2;"), "{msg}");
    }
}
