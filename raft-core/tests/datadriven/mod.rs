//! A reader, runner and rewriter for cockroachdb `datadriven` test files,
//! byte-compatible with the Go library as used by etcd-io/raft (see
//! `shared/conformance/README.md` §1).
//!
//! A file is a sequence of blocks:
//!
//! ```text
//! <directive line: cmd key key=val key=(v1,v2)>
//! <input lines>
//! ----
//! <expected output>
//! <blank line>
//! ```
//!
//! Usage from an integration test (`mod datadriven;`):
//!
//! * [`run_file`] runs one file against a handler `FnMut(&TestData) ->
//!   String` (one handler, hence one state, per file), stopping at the
//!   first mismatch and reporting `file:line` plus a diff. With `REWRITE=1`
//!   in the environment the file is instead rewritten in place with the
//!   actual outputs (point `RAFT_CONFORMANCE_DIR` at a writable copy).
//! * [`run_group`] runs every `*.txt` of one sub-directory, prints a
//!   summary and returns `(passed, total)`.
//! * [`conformance_dir`] locates the shared etcd-raft files (or `None`, in
//!   which case the caller skips).
//! * [`parse`] / [`rewrite_str`] are the pure building blocks.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One argument of a directive: `key`, `key=v` or `key=(v1,v2,...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdArg {
    /// The key (everything up to `=` or a space).
    pub key: String,
    /// The values: empty for a bare key, one for `key=v`, several for a
    /// parenthesised list.
    pub vals: Vec<String>,
}

impl std::fmt::Display for CmdArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.vals.len() {
            0 => f.write_str(&self.key),
            1 => write!(f, "{}={}", self.key, self.vals[0]),
            _ => write!(f, "{}=({})", self.key, self.vals.join(", ")),
        }
    }
}

/// One test block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestData {
    /// `file:line` of the directive, for messages.
    pub pos: String,
    /// 1-based line number of the directive.
    pub line: usize,
    /// The command (first word of the directive).
    pub cmd: String,
    /// The arguments, in the order written.
    pub args: Vec<CmdArg>,
    /// The input lines between the directive and `----`, joined with `\n`
    /// and trimmed.
    pub input: String,
    /// The expected output: every expected line followed by `\n`.
    pub expected: String,
}

impl TestData {
    /// The first argument named `key`.
    pub fn arg(&self, key: &str) -> Option<&CmdArg> {
        self.args.iter().find(|a| a.key == key)
    }

    /// True if an argument named `key` is present.
    pub fn has_arg(&self, key: &str) -> bool {
        self.arg(key).is_some()
    }

    /// The single value of argument `key` (`None` if absent; an error if it
    /// has no value or several).
    pub fn scan_str(&self, key: &str) -> Result<Option<&str>, String> {
        match self.arg(key) {
            None => Ok(None),
            Some(a) if a.vals.len() == 1 => Ok(Some(a.vals[0].as_str())),
            Some(a) => Err(format!(
                "{}: {}: expected exactly one value for {key}, got {}",
                self.pos,
                self.cmd,
                a.vals.len()
            )),
        }
    }

    /// The single value of `key` parsed as a base-10 `u64`.
    pub fn scan_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.scan_str(key)? {
            None => Ok(None),
            Some(v) => parse_u64(v).map(Some),
        }
    }

    /// The single value of `key` parsed as a Go `strconv.ParseBool` bool.
    pub fn scan_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.scan_str(key)? {
            None => Ok(None),
            Some(v) => parse_bool(v).map(Some),
        }
    }

    /// All values of `key` parsed as `u64` (empty if absent).
    pub fn scan_u64s(&self, key: &str) -> Result<Vec<u64>, String> {
        match self.arg(key) {
            None => Ok(Vec::new()),
            Some(a) => a.vals.iter().map(|v| parse_u64(v)).collect(),
        }
    }
}

/// Parses a base-10 `u64`, with Go's `strconv.ParseUint` error text.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseUint: parsing {s:?}: invalid syntax"));
    }
    s.parse::<u64>()
        .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: value out of range"))
}

/// Parses a bool like Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// Splits the inside of `(...)` on top-level commas, skipping spaces after
/// each comma (and around values).
fn split_list(inner: &str) -> Vec<String> {
    if inner.trim().is_empty() {
        return Vec::new();
    }
    let mut vals = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for c in inner.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' if depth == 0 => {
                vals.push(cur.trim().to_string());
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    vals.push(cur.trim().to_string());
    vals
}

/// Parses a directive line into its command and arguments.
pub fn parse_directive(line: &str) -> Result<(String, Vec<CmdArg>), String> {
    let line = line.trim();
    let (cmd, mut rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, ""),
    };
    if cmd.is_empty() {
        return Err("empty directive".to_string());
    }
    let mut args = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        let key_end = rest.find([' ', '=']).unwrap_or(rest.len());
        let key = &rest[..key_end];
        if key.is_empty() {
            return Err(format!("malformed argument at {rest:?}"));
        }
        rest = &rest[key_end..];
        let mut vals = Vec::new();
        if let Some(after_eq) = rest.strip_prefix('=') {
            if after_eq.starts_with('(') {
                // Find the matching parenthesis.
                let mut depth = 0usize;
                let mut close = None;
                for (i, c) in after_eq.char_indices() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(i);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let close =
                    close.ok_or_else(|| format!("unbalanced parentheses in {after_eq:?}"))?;
                vals = split_list(&after_eq[1..close]);
                rest = &after_eq[close + 1..];
                if !(rest.is_empty() || rest.starts_with(' ')) {
                    return Err(format!("malformed argument value at {rest:?}"));
                }
            } else {
                let end = after_eq.find(' ').unwrap_or(after_eq.len());
                vals.push(after_eq[..end].to_string());
                rest = &after_eq[end..];
            }
        }
        args.push(CmdArg {
            key: key.to_string(),
            vals,
        });
    }
    Ok((cmd.to_string(), args))
}

/// A parsed block plus the raw text a rewriter copies verbatim.
#[derive(Debug, Clone)]
pub struct Block {
    /// Everything consumed before the `----` separator (comments, blank
    /// lines, the directive, input lines), each line with its `\n`.
    pub leading: String,
    /// The block itself.
    pub data: TestData,
}

/// A parsed file.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    /// The blocks, in file order.
    pub blocks: Vec<Block>,
    /// Lines after the last block (comments, blank lines), each with `\n`.
    pub trailing: String,
}

/// Parses datadriven `content`; `name` is used in positions and errors.
pub fn parse(content: &str, name: &str) -> Result<ParsedFile, String> {
    let mut lines: Vec<&str> = content.split('\n').collect();
    if content.ends_with('\n') {
        lines.pop();
    }
    let mut blocks = Vec::new();
    let mut raw = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        raw.push_str(line);
        raw.push('\n');
        i += 1;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let dir_line = i;
        let mut directive = line.to_string();
        while directive.ends_with('\\') && i < lines.len() {
            directive.pop();
            directive.push(' ');
            directive.push_str(lines[i].trim());
            raw.push_str(lines[i]);
            raw.push('\n');
            i += 1;
        }
        let pos = format!("{name}:{dir_line}");
        let (cmd, args) = parse_directive(&directive).map_err(|e| format!("{pos}: {e}"))?;
        // Input: everything up to a line that is exactly `----`.
        let mut input_lines = Vec::new();
        let mut found_sep = false;
        while i < lines.len() {
            let l = lines[i];
            i += 1;
            if l == "----" {
                found_sep = true;
                break;
            }
            raw.push_str(l);
            raw.push('\n');
            input_lines.push(l);
        }
        if !found_sep {
            return Err(format!("{pos}: missing ---- separator after directive"));
        }
        let input = input_lines.join("\n").trim().to_string();
        // Expected output.
        let mut expected = String::new();
        if i < lines.len() && lines[i] == "----" {
            // Double-separator form: up to a `----`,`----` pair.
            i += 1;
            let mut closed = false;
            while i < lines.len() {
                if lines[i] == "----" && i + 1 < lines.len() && lines[i + 1] == "----" {
                    i += 2;
                    closed = true;
                    break;
                }
                expected.push_str(lines[i]);
                expected.push('\n');
                i += 1;
            }
            if !closed {
                return Err(format!("{pos}: unterminated ----/---- expected output"));
            }
            if i < lines.len() {
                if !lines[i].is_empty() {
                    return Err(format!(
                        "{name}:{}: non-blank line after end of double ---- separator section",
                        i + 1
                    ));
                }
                i += 1;
            }
        } else {
            while i < lines.len() {
                let l = lines[i];
                i += 1;
                if l.trim().is_empty() {
                    break;
                }
                expected.push_str(l);
                expected.push('\n');
            }
        }
        blocks.push(Block {
            leading: std::mem::take(&mut raw),
            data: TestData {
                pos,
                line: dir_line,
                cmd,
                args,
                input,
                expected,
            },
        });
    }
    Ok(ParsedFile {
        blocks,
        trailing: raw,
    })
}

/// Normalises a handler's output as datadriven does: a non-empty output
/// gets a final `\n` if it lacks one.
pub fn normalize(mut actual: String) -> String {
    if !actual.is_empty() && !actual.ends_with('\n') {
        actual.push('\n');
    }
    actual
}

/// True if `s` has a line made only of spaces/tabs (including an empty
/// line), which forces the double-separator form.
fn has_blank_line(s: &str) -> bool {
    let mut rest = s;
    while let Some(nl) = rest.find('\n') {
        if rest[..nl].bytes().all(|b| b == b' ' || b == b'\t') {
            return true;
        }
        rest = &rest[nl + 1..];
    }
    false
}

/// Renders a parsed file with the given (normalised) outputs, one per
/// block, exactly as Go's `-rewrite` does.
pub fn render(file: &ParsedFile, outputs: &[String]) -> String {
    let mut out = String::new();
    for (b, actual) in file.blocks.iter().zip(outputs) {
        out.push_str(&b.leading);
        out.push_str("----\n");
        if has_blank_line(actual) {
            out.push_str("----\n");
            out.push_str(actual);
            out.push_str("----\n----\n\n");
        } else {
            out.push_str(actual);
            out.push('\n');
        }
    }
    out.push_str(&file.trailing);
    if out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Runs every block of `content` through `handler` and returns the file
/// rewritten with the actual outputs.
pub fn rewrite_str(
    content: &str,
    name: &str,
    mut handler: impl FnMut(&TestData) -> String,
) -> Result<String, String> {
    let file = parse(content, name)?;
    let outputs: Vec<String> = file
        .blocks
        .iter()
        .map(|b| normalize(handler(&b.data)))
        .collect();
    Ok(render(&file, &outputs))
}

/// A minimal line diff (LCS) of `expected` against `actual`, with `-` for
/// expected-only and `+` for actual-only lines.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::from("--- expected\n+++ actual\n");
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            let _ = writeln!(out, " {}", a[i]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            let _ = writeln!(out, "-{}", a[i]);
            i += 1;
        } else {
            let _ = writeln!(out, "+{}", b[j]);
            j += 1;
        }
    }
    if expected.ends_with('\n') != actual.ends_with('\n') {
        out.push_str("(the outputs differ in their final newline)\n");
    }
    out
}

/// Runs `content` block by block, stopping at the first block whose output
/// differs from the expected one. `Err` carries `file:line`, the directive,
/// and a diff.
pub fn run_str(
    content: &str,
    name: &str,
    mut handler: impl FnMut(&TestData) -> String,
) -> Result<(), String> {
    let file = parse(content, name)?;
    for b in &file.blocks {
        let d = &b.data;
        let actual = normalize(handler(d));
        if actual != d.expected {
            let args: Vec<String> = d.args.iter().map(|a| a.to_string()).collect();
            let mut msg = format!("{}: {} {}\n", d.pos, d.cmd, args.join(" "));
            if !d.input.is_empty() {
                let _ = writeln!(msg, "input:\n{}", d.input);
            }
            msg.push_str(&diff(&d.expected, &actual));
            return Err(msg);
        }
    }
    Ok(())
}

/// Reads `src`, runs every block, and writes the rewritten file to `dst`.
pub fn rewrite_file(
    src: &Path,
    dst: &Path,
    handler: impl FnMut(&TestData) -> String,
) -> Result<(), String> {
    let content = std::fs::read_to_string(src).map_err(|e| format!("{}: {e}", src.display()))?;
    let out = rewrite_str(&content, &src.display().to_string(), handler)?;
    std::fs::write(dst, out).map_err(|e| format!("{}: {e}", dst.display()))
}

/// True if the environment asks for rewriting (`REWRITE=1`).
pub fn rewrite_requested() -> bool {
    std::env::var("REWRITE").is_ok_and(|v| v == "1")
}

/// Runs one file. With `REWRITE=1` the file is rewritten in place with the
/// actual outputs instead of being compared.
pub fn run_file(path: &Path, handler: impl FnMut(&TestData) -> String) -> Result<(), String> {
    if rewrite_requested() {
        return rewrite_file(path, path, handler);
    }
    let content = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    run_str(&content, &path.display().to_string(), handler)
}

/// The etcd-raft conformance directory: `$RAFT_CONFORMANCE_DIR`, else
/// `<repo>/../shared/conformance/etcd-raft`; `None` if it does not exist.
pub fn conformance_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("RAFT_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/etcd-raft"),
    };
    dir.is_dir().then_some(dir)
}

/// The `*.txt` files of `dir`, sorted by name.
pub fn txt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "txt"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Runs every `*.txt` in `root/<group>` (sorted), each with a fresh handler
/// from `factory(path)`. Prints each failure, then a line naming the group
/// and `conformance: P/T files pass`. Returns `(passed, total)`.
pub fn run_group<F, H>(group: &str, root: &Path, mut factory: F) -> (usize, usize)
where
    F: FnMut(&Path) -> H,
    H: FnMut(&TestData) -> String,
{
    let dir = root.join(group);
    let files = txt_files(&dir);
    let mut passed = 0;
    for f in &files {
        match run_file(f, factory(f)) {
            Ok(()) => passed += 1,
            Err(e) => println!("FAIL {e}"),
        }
    }
    println!("group {group} ({})", dir.display());
    println!("conformance: {passed}/{} files pass", files.len());
    (passed, files.len())
}
