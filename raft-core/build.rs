//! Compiles `proto/raft.proto` with prost. The descriptor set comes from
//! `protox`, a pure-Rust protobuf compiler, so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/raft.proto");
    let fds = protox::compile(["proto/raft.proto"], ["proto"])?;
    prost_build::Config::new()
        .bytes(["."])
        .retain_enum_prefix()
        .compile_fds(fds)?;
    Ok(())
}
