//! Runs etcd-raft's `confchange/*.txt` datadriven files (README §3) against
//! `raft_core::confchange`.

mod datadriven;

use datadriven::TestData;
use raft_core::confchange::Changer;
use raft_core::eraftpb::{ConfChangeSingle, ConfChangeType};
use raft_core::tracker::{progress_map_string, ProgressTracker};

/// Per-file state: the tracker and the last index, which grows by one after
/// every block (also after failing ones).
struct Env {
    tracker: ProgressTracker,
    last_index: u64,
}

impl Env {
    fn new() -> Self {
        Env {
            tracker: ProgressTracker::new(10, 0),
            last_index: 0,
        }
    }

    fn handle(&mut self, d: &TestData) -> String {
        let out = self.run(d);
        self.last_index += 1;
        out
    }

    fn run(&mut self, d: &TestData) -> String {
        let mut ccs = Vec::new();
        for tok in d.input.split(' ').filter(|_| !d.input.is_empty()) {
            if tok.len() < 2 {
                return format!("unknown token {tok}");
            }
            let t = match tok.as_bytes()[0] {
                b'v' => ConfChangeType::ConfChangeAddNode,
                b'l' => ConfChangeType::ConfChangeAddLearnerNode,
                b'r' => ConfChangeType::ConfChangeRemoveNode,
                b'u' => ConfChangeType::ConfChangeUpdateNode,
                _ => return format!("unknown input: {tok}"),
            };
            let id = match tok.get(1..).map(datadriven::parse_u64) {
                Some(Ok(id)) => id,
                Some(Err(e)) => return e,
                None => return format!("unknown input: {tok}"),
            };
            ccs.push(ConfChangeSingle::new(t, id));
        }
        let chg = Changer::new(&self.tracker, self.last_index);
        let res = match d.cmd.as_str() {
            "simple" => chg.simple(&ccs),
            "enter-joint" => {
                let auto_leave = match d.scan_bool("autoleave") {
                    Ok(v) => v.unwrap_or(false),
                    Err(e) => return e,
                };
                chg.enter_joint(auto_leave, &ccs)
            }
            "leave-joint" => {
                if !ccs.is_empty() {
                    return "this command takes no input\n".to_string();
                }
                chg.leave_joint()
            }
            _ => return "unknown command".to_string(),
        };
        match res {
            Err(e) => format!("{e}\n"),
            Ok((cfg, prs)) => {
                self.tracker.config = cfg;
                self.tracker.progress = prs;
                format!(
                    "{}\n{}",
                    self.tracker.config,
                    progress_map_string(&self.tracker.progress)
                )
            }
        }
    }
}

#[test]
fn conformance_confchange() {
    let Some(root) = datadriven::conformance_dir() else {
        println!("SKIP: etcd-raft conformance files not found (set RAFT_CONFORMANCE_DIR)");
        return;
    };
    let (passed, total) = datadriven::run_group("confchange", &root, |_| {
        let mut env = Env::new();
        move |d: &TestData| env.handle(d)
    });
    assert_eq!(total, 9, "expected the 9 etcd confchange files");
    assert_eq!(
        passed, total,
        "confchange conformance failures (see output)"
    );
}
