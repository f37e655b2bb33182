//! Our own interaction transcripts (`raft-core/testdata/*.txt`) for
//! behaviours etcd's set does not cover. They use the same environment as
//! the etcd interaction runner plus a few extra `add-nodes` options
//! (`bootstrap-peers`, `immediate-self-ack`, `merge-appends`,
//! `max-uncommitted-size`, `max-size-per-msg`). `REWRITE=1` regenerates the
//! expected output; review the diff before committing it.

mod datadriven;
mod interaction;

use std::path::Path;

use datadriven::TestData;
use interaction::Env;

#[test]
fn own_transcripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (passed, total) = datadriven::run_group("testdata", root, |_| {
        let mut env = Env::new();
        move |d: &TestData| env.handle(&d.cmd, &d.args, &d.input)
    });
    assert!(total >= 4, "our transcripts are missing");
    assert_eq!(passed, total, "transcript failures (see output)");
}
