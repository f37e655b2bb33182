//! Self-tests of the datadriven reader/runner/rewriter in
//! `tests/datadriven/mod.rs`.

mod datadriven;

use std::path::PathBuf;

use datadriven::{parse, parse_directive, rewrite_str, run_str, CmdArg, TestData};

fn arg(key: &str, vals: &[&str]) -> CmdArg {
    CmdArg {
        key: key.to_string(),
        vals: vals.iter().map(|v| v.to_string()).collect(),
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("raft-datadriven-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn directive_syntax() {
    let (cmd, args) = parse_directive("committed cfg=(1, 2,3) idx=(_,5) flag x= y=7").unwrap();
    assert_eq!(cmd, "committed");
    assert_eq!(
        args,
        vec![
            arg("cfg", &["1", "2", "3"]),
            arg("idx", &["_", "5"]),
            arg("flag", &[]),
            arg("x", &[""]),
            arg("y", &["7"]),
        ]
    );
    let (cmd, args) = parse_directive("  propose 1 \"foo\" drop=(3) nest=(a(b,c),d)  ").unwrap();
    assert_eq!(cmd, "propose");
    assert_eq!(
        args,
        vec![
            arg("1", &[]),
            arg("\"foo\"", &[]),
            arg("drop", &["3"]),
            arg("nest", &["a(b,c)", "d"]),
        ]
    );
    let (cmd, args) = parse_directive("leave-joint").unwrap();
    assert_eq!((cmd.as_str(), args.len()), ("leave-joint", 0));
    assert!(parse_directive("cmd x=(1,2").is_err());
}

#[test]
fn typed_scans() {
    let (cmd, args) = parse_directive("c n=12 b=T bad=x l=(1,2)").unwrap();
    let d = TestData {
        pos: "t:1".into(),
        line: 1,
        cmd,
        args,
        input: String::new(),
        expected: String::new(),
    };
    assert_eq!(d.scan_u64("n"), Ok(Some(12)));
    assert_eq!(d.scan_u64("missing"), Ok(None));
    assert_eq!(d.scan_bool("b"), Ok(Some(true)));
    assert_eq!(
        d.scan_u64("bad"),
        Err("strconv.ParseUint: parsing \"x\": invalid syntax".to_string())
    );
    assert!(d.scan_bool("bad").is_err());
    assert!(d.scan_u64("l").is_err(), "two values for a scalar");
    assert_eq!(d.scan_u64s("l"), Ok(vec![1, 2]));
    assert!(d.has_arg("b") && !d.has_arg("zz"));
    assert_eq!(
        datadriven::parse_u64("99999999999999999999"),
        Err("strconv.ParseUint: parsing \"99999999999999999999\": value out of range".into())
    );
}

const SAMPLE: &str = "# comment\n\ncmd a=1\n  line one  \n# not a comment\n----\nout1\nout2\n\n\n\nsecond\n----\nok\n";

#[test]
fn blocks_input_and_expected() {
    let f = parse(SAMPLE, "sample").unwrap();
    assert_eq!(f.blocks.len(), 2);
    let d = &f.blocks[0].data;
    assert_eq!(
        (d.cmd.as_str(), d.line, d.pos.as_str()),
        ("cmd", 3, "sample:3")
    );
    assert_eq!(d.input, "line one  \n# not a comment");
    assert_eq!(d.expected, "out1\nout2\n");
    let d = &f.blocks[1].data;
    assert_eq!((d.cmd.as_str(), d.line), ("second", 12));
    assert_eq!(d.expected, "ok\n");
}

#[test]
fn run_compares_and_stops_at_first_failure() {
    let mut calls = 0;
    let ok = run_str(SAMPLE, "sample", |d| {
        calls += 1;
        // No trailing newline: it is added before comparing.
        d.expected.trim_end().to_string()
    });
    assert_eq!(ok, Ok(()));
    assert_eq!(calls, 2);

    let mut calls = 0;
    let err = run_str(SAMPLE, "sample", |_| {
        calls += 1;
        "out1\nOUT2\n".to_string()
    })
    .unwrap_err();
    assert_eq!(calls, 1, "stops at the first failing block");
    assert!(err.starts_with("sample:3: cmd a=1\n"), "{err}");
    assert!(err.contains("-out2\n+OUT2\n"), "{err}");
    assert!(err.contains(" out1\n"), "{err}");
}

#[test]
fn rewrite_uses_double_separator_for_blank_lines() {
    let out = rewrite_str(SAMPLE, "sample", |d| {
        if d.cmd == "cmd" {
            "a\n\nb".to_string()
        } else {
            String::new()
        }
    })
    .unwrap();
    assert_eq!(
        out,
        "# comment\n\ncmd a=1\n  line one  \n# not a comment\n----\n----\na\n\nb\n----\n----\n\n\n\nsecond\n----\n"
    );
    // The double-separator form reads back to the same output.
    let f = parse(&out, "rewritten").unwrap();
    assert_eq!(f.blocks[0].data.expected, "a\n\nb\n");
    assert_eq!(f.blocks[1].data.expected, "");
    assert_eq!(
        rewrite_str(&out, "again", |d| d.expected.clone()).unwrap(),
        out
    );
}

/// Feeding the expected outputs back as actual outputs reproduces every
/// conformance file byte for byte, both in memory and through a rewrite
/// into a temporary directory.
#[test]
fn rewrite_reproduces_all_conformance_files() {
    let Some(root) = datadriven::conformance_dir() else {
        println!("SKIP: etcd-raft conformance files not found (set RAFT_CONFORMANCE_DIR)");
        return;
    };
    let tmp = temp_dir("selftest");
    let mut n = 0;
    for group in ["quorum", "confchange", "interaction"] {
        for src in datadriven::txt_files(&root.join(group)) {
            let original = std::fs::read_to_string(&src).unwrap();
            let dst = tmp.join(format!(
                "{group}-{}",
                src.file_name().unwrap().to_string_lossy()
            ));
            datadriven::rewrite_file(&src, &dst, |d| d.expected.clone()).unwrap();
            let rewritten = std::fs::read_to_string(&dst).unwrap();
            assert!(rewritten == original, "{} not reproduced", src.display());
            // And the reader accepts its own expected outputs.
            datadriven::run_str(&original, &src.display().to_string(), |d| {
                d.expected.clone()
            })
            .unwrap();
            n += 1;
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
    assert_eq!(n, 41, "expected 4 + 9 + 28 conformance files");
}

/// A wrong output in a real file is reported with its file and line.
#[test]
fn failure_in_real_file_names_line() {
    let Some(root) = datadriven::conformance_dir() else {
        println!("SKIP: etcd-raft conformance files not found (set RAFT_CONFORMANCE_DIR)");
        return;
    };
    let src = root.join("quorum/majority_vote.txt");
    let content = std::fs::read_to_string(&src).unwrap();
    let first = parse(&content, "majority_vote.txt").unwrap().blocks[0]
        .data
        .line;
    let err = run_str(&content, "majority_vote.txt", |_| "VoteNope".to_string()).unwrap_err();
    assert!(
        err.starts_with(&format!("majority_vote.txt:{first}: ")),
        "{err}"
    );
    assert!(err.contains("+VoteNope"), "{err}");
}
