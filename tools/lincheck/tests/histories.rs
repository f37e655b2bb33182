//! The checker on hand-made histories whose verdict is known (stale reads,
//! lost writes, unknown outcomes, cas answers), on random histories of a
//! real register (linearizable by construction, and broken by one changed
//! answer), on malformed input, and through the binary's exit status.

use lincheck::{check_history, parse_history, Outcome};

fn verdicts(text: &str) -> Vec<(String, Outcome)> {
    let ops = parse_history(text).expect("history parses");
    check_history(&ops, 10_000_000)
        .into_iter()
        .map(|r| (r.key, r.outcome))
        .collect()
}

fn linearizable(text: &str) -> bool {
    let v = verdicts(text);
    assert!(
        v.iter().all(|(_, o)| *o != Outcome::Undecided),
        "undecided: {v:?}"
    );
    v.iter().all(|(_, o)| *o == Outcome::Linearizable)
}

#[test]
fn sequential_puts_and_gets() {
    assert!(linearizable(
        "c1 k 0 10 get - - value:~
         c1 k 20 30 put a - ok
         c2 k 40 50 get - - value:a
         c1 k 60 70 put b - ok
         c2 k 80 90 get - - value:b"
    ));
}

#[test]
fn stale_read_is_caught() {
    // b was acknowledged before the read began, yet the read returns a.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c1 k 20 30 put b - ok
         c2 k 40 50 get - - value:a"
    ));
}

#[test]
fn lost_write_is_caught() {
    // An acknowledged write that a later read does not see.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c2 k 20 30 get - - value:~"
    ));
    // ... and one that a later cas does not find.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c1 k 20 30 put b - ok
         c2 k 40 50 cas b c mismatch:a"
    ));
}

#[test]
fn read_concurrent_with_a_write_may_see_either() {
    for seen in ["a", "b"] {
        assert!(linearizable(&format!(
            "c1 k 0 10 put a - ok
             c1 k 20 60 put b - ok
             c2 k 30 40 get - - value:{seen}"
        )));
    }
}

#[test]
fn new_then_old_read_inversion_is_caught() {
    // Both reads overlap the write, but once one saw b a later one cannot
    // see a again.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c1 k 20 100 put b - ok
         c2 k 30 40 get - - value:b
         c3 k 50 60 get - - value:a"
    ));
    assert!(linearizable(
        "c1 k 0 10 put a - ok
         c1 k 20 100 put b - ok
         c2 k 30 40 get - - value:a
         c3 k 50 60 get - - value:b"
    ));
}

#[test]
fn unknown_write_may_apply_late_or_never_but_once() {
    // Never applied: reads keep seeing a.
    assert!(linearizable(
        "c1 k 0 10 put a - ok
         c2 k 5 inf put b - unknown
         c3 k 100 110 get - - value:a"
    ));
    // Applied long after the client gave up.
    assert!(linearizable(
        "c1 k 0 10 put a - ok
         c2 k 5 inf put b - unknown
         c3 k 100 110 get - - value:a
         c3 k 200 210 get - - value:b"
    ));
    // Applied once only: b then a then b again needs a second b.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c2 k 5 inf put b - unknown
         c3 k 100 110 get - - value:b
         c1 k 120 130 put a - ok
         c3 k 200 210 get - - value:b"
    ));
    // Not before its invocation.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c3 k 20 30 get - - value:b
         c2 k 50 inf put b - unknown"
    ));
}

#[test]
fn unanswered_gets_constrain_nothing() {
    assert!(linearizable(
        "c1 k 0 10 put a - ok
         c2 k 20 inf get - - unknown
         c2 k 40 50 get - - value:a"
    ));
}

#[test]
fn cas_semantics() {
    assert!(linearizable(
        "c1 k 0 10 cas ~ a ok
         c1 k 20 30 cas ~ b mismatch:a
         c1 k 40 50 cas a b ok
         c2 k 60 70 get - - value:b"
    ));
    // A cas cannot succeed against a value that is not there.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c1 k 20 30 cas z b ok"
    ));
    // A mismatch must report the value really there, and it must differ.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c1 k 20 30 cas z b mismatch:z"
    ));
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c1 k 20 30 cas a b mismatch:a"
    ));
    // An unknown cas applies only when it finds its expected value.
    assert!(!linearizable(
        "c1 k 0 10 put a - ok
         c2 k 15 inf cas z b unknown
         c3 k 100 110 get - - value:b"
    ));
    assert!(linearizable(
        "c1 k 0 10 put a - ok
         c2 k 15 inf cas a b unknown
         c3 k 100 110 get - - value:b"
    ));
}

#[test]
fn two_writers_one_winner() {
    // Two concurrent cas from the same old value: at most one can win.
    assert!(!linearizable(
        "c0 k 0 5 put a - ok
         c1 k 10 50 cas a b ok
         c2 k 10 50 cas a c ok"
    ));
    assert!(linearizable(
        "c0 k 0 5 put a - ok
         c1 k 10 50 cas a b ok
         c2 k 10 50 cas a c mismatch:b"
    ));
}

#[test]
fn operations_that_touch_count_as_concurrent() {
    // The put returns at the instant the get is invoked: either order.
    assert!(linearizable(
        "c1 k 0 10 put a - ok
         c1 k 20 30 put b - ok
         c2 k 30 40 get - - value:a"
    ));
}

#[test]
fn keys_are_checked_separately() {
    let v = verdicts(
        "c1 x 0 10 put a - ok
         c1 y 0 10 put a - ok
         c2 y 20 30 get - - value:~
         c2 x 20 30 get - - value:a",
    );
    assert_eq!(v.len(), 2);
    assert_eq!(v[0], ("x".to_string(), Outcome::Linearizable));
    assert!(matches!(v[1].1, Outcome::Violation(_)));
    // Values do not leak between keys: y's a is not x's a.
    assert!(!linearizable(
        "c1 x 0 10 put a - ok
         c2 y 20 30 get - - value:a"
    ));
}

#[test]
fn violation_report_names_the_stuck_operation() {
    let ops = parse_history(
        "c1 k 0 10 put a - ok
         c1 k 20 30 put b - ok
         c2 k 40 50 get - - value:a",
    )
    .unwrap();
    let r = check_history(&ops, 1000);
    let Outcome::Violation(text) = &r[0].outcome else {
        panic!("expected a violation: {:?}", r[0].outcome)
    };
    assert!(text.contains("covers 2 of 3"), "{text}");
    assert!(text.contains("leaving the value b"), "{text}");
    assert!(
        text.contains("c2 k 40 50 get - - value:a  (line 3)"),
        "{text}"
    );
}

#[test]
fn step_budget_gives_undecided_not_a_verdict() {
    let ops = parse_history(
        "c1 k 0 100 put a - ok
         c2 k 0 100 put b - ok
         c3 k 0 100 put c - ok
         c4 k 200 300 get - - value:a",
    )
    .unwrap();
    assert_eq!(check_history(&ops, 2)[0].outcome, Outcome::Undecided);
    assert_eq!(
        check_history(&ops, 1_000_000)[0].outcome,
        Outcome::Linearizable
    );
}

#[test]
fn malformed_lines_are_refused_with_their_number() {
    for (bad, what) in [
        ("c1 k 0 10 put a - ok extra", "expected 8 fields"),
        ("c1 k x 10 put a - ok", "bad call time"),
        (
            "c1 k 0 99999999999999999999999 put a - ok",
            "bad return time",
        ),
        ("c1 k 10 5 put a - ok", "before it is called"),
        ("c1 k 0 inf put a - ok", "exactly when"),
        ("c1 k 0 10 put a - unknown", "exactly when"),
        ("c1 k 0 10 put ~ - ok", "bad operation"),
        ("c1 k 0 10 del a - ok", "bad operation"),
        ("c1 k 0 10 cas a ~ ok", "bad operation"),
        ("c1 k 0 10 get - - ok", "does not fit"),
        ("c1 k 0 10 put a - value:a", "does not fit"),
        ("c1 k 0 10 put a - maybe", "bad result"),
    ] {
        let err = parse_history(&format!("# header\n\n{bad}\n")).expect_err(bad);
        assert_eq!(err.line, 3, "{bad}");
        assert!(err.message.contains(what), "{bad}: {}", err.message);
    }
}

/// A small deterministic generator (no dependencies).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Runs a real register: each operation takes effect at a distinct instant
/// inside its own interval, so the history is linearizable by construction.
/// Some writes are reported as unknown (applied or dropped), some gets lost.
fn register_history(seed: u64, n: usize) -> String {
    let mut rng = Lcg(seed);
    let mut value: Option<String> = None;
    let mut lines = Vec::new();
    for i in 0..n {
        let point = 1000 + 10 * i as u64;
        let call = point - rng.next(40);
        let ret = point + rng.next(40);
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "~".into());
        let unknown = rng.next(10) == 0;
        let (op, a, b, res) = match rng.next(3) {
            0 => {
                let v = format!("v{i}");
                let applied = !unknown || rng.next(2) == 0;
                if applied {
                    value = Some(v.clone());
                }
                (
                    "put",
                    v,
                    "-".to_string(),
                    if unknown {
                        "unknown".to_string()
                    } else {
                        "ok".to_string()
                    },
                )
            }
            1 => (
                "get",
                "-".into(),
                "-".into(),
                if unknown {
                    "unknown".into()
                } else {
                    format!("value:{}", show(&value))
                },
            ),
            _ => {
                let old = if rng.next(2) == 0 {
                    show(&value)
                } else {
                    format!("v{}", rng.next(i as u64 + 1))
                };
                let new = format!("v{i}");
                let hit = show(&value) == old;
                let res = if unknown {
                    if hit && rng.next(2) == 0 {
                        value = Some(new.clone());
                    }
                    "unknown".to_string()
                } else if hit {
                    value = Some(new.clone());
                    "ok".to_string()
                } else {
                    format!("mismatch:{}", show(&value))
                };
                ("cas", old, new, res)
            }
        };
        let ret = if res == "unknown" {
            "inf".to_string()
        } else {
            ret.to_string()
        };
        lines.push(format!("c{} k {call} {ret} {op} {a} {b} {res}", i % 5));
    }
    lines.join("\n")
}

#[test]
fn random_register_histories_are_linearizable_and_one_wrong_answer_is_not() {
    let mut caught = 0;
    for seed in 1..=200 {
        let h = register_history(seed, 60);
        assert!(linearizable(&h), "seed {seed}:\n{h}");
        // Make a completed get answer a value nobody ever wrote.
        if let Some(pos) = h.find(" get - - value:") {
            let end = h[pos..].find('\n').map_or(h.len(), |e| pos + e);
            let broken = format!("{} get - - value:never{}", &h[..pos], &h[end..]);
            assert!(!linearizable(&broken), "seed {seed}:\n{broken}");
            caught += 1;
        }
    }
    assert!(caught > 150);
}

#[test]
fn binary_exit_status_follows_the_verdict() {
    let dir = std::env::temp_dir().join(format!("lincheck-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lincheck"))
            .arg(&p)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run("good", "c1 k 0 10 put a - ok\nc2 k 20 30 get - - value:a\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("2 operations checked (0 with unknown outcome): linearizable"),
        "{out}"
    );
    let (code, out) = run(
        "stale",
        "c1 k 0 10 put a - ok\nc1 k 20 30 put b - ok\nc2 k 40 50 get - - value:a\n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("NOT LINEARIZABLE"), "{out}");
    let (code, _) = run("garbage", "\u{0}\u{1} not a history\n");
    assert_eq!(code, Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn memoization_keeps_the_search_small() {
    // Twelve concurrent puts, then a read of a value nobody wrote: proving
    // the violation means trying every order of the puts. Without the memo
    // of (linearized set, state) that is 12! orders; with it, at most
    // 2^12 sets times 13 states.
    let mut h = String::new();
    for i in 0..12 {
        h.push_str(&format!("c{i} k 0 100 put v{i} - ok\n"));
    }
    h.push_str("r k 200 300 get - - value:nobody\n");
    let ops = parse_history(&h).unwrap();
    let r = &check_history(&ops, 2_000_000)[0];
    assert!(
        matches!(r.outcome, Outcome::Violation(_)),
        "{:?} after {} steps",
        r.outcome,
        r.steps
    );
}
