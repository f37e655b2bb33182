-- luarocks package of the Lua module: lraft.so (the Raft binding and
-- lraft.leveldb) and every module of lua/ (ldbstorage.lua).
-- Build and install from the checkout, offline (needs cargo):
--   luarocks --lua-version=5.4 make                   (add --local or --tree DIR)
-- The build runs the Makefile's `lua` target (cargo build --release -p lraft,
-- honouring CARGO_TARGET_DIR) and `lua-install` copies the files.
-- The version repeats the workspace version of Cargo.toml (checked by
-- tests/install/run.sh).
rockspec_format = "3.0"
package = "lraft"
version = "0.1.0-1"
source = {
   url = "git+file://.",
}
description = {
   summary = "Raft consensus for Lua 5.4: an etcd-style RawNode over a Rust core, with LevelDB storage",
   detailed = [[
require("lraft") gives an etcd-style RawNode (tick, step, propose, campaign,
ready, advance), etcd raftpb-compatible messages, in-memory storage and
storages written in Lua; require("lraft.leveldb") a LevelDB binding whose
synced writes are fsynced; require("ldbstorage") a durable Raft storage over
LevelDB. The reference is lraft/README.md.
]],
   license = "MIT OR Apache-2.0",
   labels = { "raft", "consensus", "leveldb" },
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "make",
   build_target = "lua",
   install_target = "lua-install",
   build_variables = {},
   install_variables = {
      INST_LIBDIR = "$(LIBDIR)",
      INST_LUADIR = "$(LUADIR)",
   },
}
