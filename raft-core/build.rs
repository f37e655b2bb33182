//! Compiles `proto/raft.proto` with prost. The descriptor set comes from
//! `protox`, a pure-Rust protobuf compiler, so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/raft.proto");
    let fds = protox::compile(["proto/raft.proto"], ["proto"])?;
    prost_build::Config::new()
        .bytes(["."])
        .retain_enum_prefix()
        // A snapshot rides in few messages: boxed, it keeps every Message
        // small (moved and copied on every step and send).
        .boxed(".raftpb.Message.snapshot")
        .compile_fds(fds)?;
    Ok(())
}
