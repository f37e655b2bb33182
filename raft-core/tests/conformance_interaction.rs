//! Replays etcd-raft's interaction transcripts (`interaction/*.txt`,
//! README §4) against our RawNode, byte for byte.

mod datadriven;
mod interaction;

use datadriven::TestData;
use interaction::Env;

#[test]
fn conformance_interaction() {
    let Some(root) = datadriven::conformance_dir() else {
        println!("SKIP: etcd-raft conformance files not found (set RAFT_CONFORMANCE_DIR)");
        return;
    };
    let dir = root.join("interaction");
    let files = datadriven::txt_files(&dir);
    let mut passed = 0;
    for f in &files {
        // etcd's files are never rewritten: compare only.
        let content = std::fs::read_to_string(f).expect("read transcript");
        let mut env = Env::new();
        let handler = |d: &TestData| env.handle(&d.cmd, &d.args, &d.input);
        match datadriven::run_str(&content, &f.display().to_string(), handler) {
            Ok(()) => passed += 1,
            Err(e) => println!("FAIL {e}"),
        }
    }
    println!("group interaction ({})", dir.display());
    println!("conformance: {passed}/{} files pass", files.len());
    assert_eq!(files.len(), 28, "expected the 28 etcd interaction files");
    assert_eq!(
        passed,
        files.len(),
        "interaction conformance failures (see output)"
    );
}
