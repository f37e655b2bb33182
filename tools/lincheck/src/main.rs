//! `lincheck HISTORY [BUDGET]`: checks a kv history file (format in
//! `history.rs`) for linearizability, key by key, and prints one line per
//! key and a summary. Exit status: 0 linearizable, 1 a violation, 2
//! undecided (step budget exhausted) or unreadable input.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: lincheck HISTORY [STEP_BUDGET_PER_KEY]");
        return ExitCode::from(2);
    }
    let budget = match args.get(2).map(|b| b.parse::<u64>()) {
        None => 50_000_000,
        Some(Ok(b)) if b > 0 => b,
        Some(_) => {
            eprintln!("lincheck: the step budget must be a positive integer");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(&args[1]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lincheck: cannot read {}: {e}", args[1]);
            return ExitCode::from(2);
        }
    };
    let ops = match lincheck::parse_history(&text) {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("lincheck: {e}");
            return ExitCode::from(2);
        }
    };
    let reports = lincheck::check_history(&ops, budget);
    let (mut checked, mut unknown, mut bad, mut undecided) = (0, 0, 0, 0);
    for r in &reports {
        checked += r.ops;
        unknown += r.unknown;
        let verdict = match &r.outcome {
            lincheck::Outcome::Linearizable => "linearizable".to_string(),
            lincheck::Outcome::Undecided => {
                undecided += 1;
                "UNDECIDED (step budget exhausted)".to_string()
            }
            lincheck::Outcome::Violation(why) => {
                bad += 1;
                format!("NOT LINEARIZABLE\n{why}")
            }
        };
        println!(
            "key {}: {} operations ({} unknown outcome), {} search steps: {}",
            r.key, r.ops, r.unknown, r.steps, verdict
        );
    }
    println!(
        "lincheck: {} keys, {} operations checked ({} with unknown outcome): {}",
        reports.len(),
        checked,
        unknown,
        if bad > 0 {
            "NOT LINEARIZABLE"
        } else if undecided > 0 {
            "undecided"
        } else {
            "linearizable"
        }
    );
    if bad > 0 {
        ExitCode::from(1)
    } else if undecided > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
