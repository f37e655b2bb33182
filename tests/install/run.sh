#!/usr/bin/env bash
# Installs the project the way a user does and builds against the install,
# outside the checkout: scripts/install.sh into a temporary prefix; the C++
# example with CMake find_package(raft) against raft::raft (shared) and
# raft::raft_static; the C example with pkg-config (shared and static); the
# lraft rock with luarocks into a temporary tree and a Lua program using it;
# `make install/uninstall` with PREFIX and DESTDIR; and uninstall leaving
# the prefix empty. Reuses the release build of tests/cpp and tests/lua.
# Ends with one line `install: N passed, N failed`; exits non-zero on failure.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PREFIX=$WORK/prefix
mkdir -p "$PREFIX"

passed=0
failed=0
check() { # check LABEL COMMAND...: one test; its output goes to a log shown on failure
    local label=$1 log
    shift
    log=$WORK/$(echo "$label" | tr -c 'a-zA-Z0-9' '_').log
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "PASS $label"
    else
        failed=$((failed + 1))
        echo "FAIL $label"
        tail -n 30 "$log"
    fi
}
finish() {
    echo "install: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

version=$(cargo pkgid -p raft-ffi | sed 's/.*[#@]//')
major=${version%%.*}

if ! check "scripts/install.sh --prefix (empty prefix)" bash scripts/install.sh --prefix "$PREFIX"; then
    finish
fi

installed_layout() {
    local lib=$PREFIX/lib
    [ -f "$lib/libraft.so.$version" ] && [ ! -L "$lib/libraft.so.$version" ] || return 1
    [ "$(readlink "$lib/libraft.so.$major")" = "libraft.so.$version" ] || return 1
    [ "$(readlink "$lib/libraft.so")" = "libraft.so.$major" ] || return 1
    readelf -d "$lib/libraft.so.$version" | grep -F "soname: [libraft.so.$major]" || return 1
    [ -f "$lib/libraft.a" ] && [ -f "$lib/cmake/raft/raftConfig.cmake" ] || return 1
    [ -f "$lib/cmake/raft/raftConfigVersion.cmake" ] || return 1
    while IFS= read -r h; do cmp "$h" "$PREFIX/$h" || return 1; done < <(find include -type f)
}
check "layout: versioned libraft.so with soname libraft.so.$major, links, headers, configs" installed_layout

export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
versions_agree() {
    [ "$(pkg-config --modversion raft)" = "$version" ] || return 1
    [ -f "lraft-$version-1.rockspec" ] || { echo "no lraft-$version-1.rockspec"; return 1; }
    grep -q "^version = \"$version-1\"" "lraft-$version-1.rockspec"
}
check "version $version: Cargo.toml, raft.pc and the rockspec agree" versions_agree

# Builds happen in $WORK from copies of the examples: nothing of the
# checkout is on an include or library path.
cp -r examples/cpp "$WORK/cpp"
cp examples/c/cluster.c "$WORK/cluster.c"
cd "$WORK" || exit 1

runs_example() { # runs_example BINARY: prints the version and ends with "ok:"
    "$1" | tee "$1.out"
    grep -qx "raft $version" "$1.out" && tail -n 1 "$1.out" | grep -q '^ok:'
}
cmake_example() { # cmake_example DIR STATIC(ON|OFF)
    cmake -S cpp -B "$1" -DCMAKE_PREFIX_PATH="$PREFIX" -DRAFT_STATIC="$2" \
        -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" && cmake --build "$1" && runs_example "$1/cluster" || return 1
    if [ "$2" = ON ]; then
        ! readelf -d "$1/cluster" | grep -q 'libraft'
    else
        readelf -d "$1/cluster" | grep -F "Shared library: [libraft.so.$major]"
    fi
}
check "C++ example, CMake find_package(raft), raft::raft (libraft.so)" cmake_example build-shared OFF
check "C++ example, CMake find_package(raft), raft::raft_static (libraft.a)" cmake_example build-static ON

c_shared() {
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror cluster.c $(pkg-config --cflags --libs raft) \
        -Wl,-rpath,"$(pkg-config --variable=libdir raft)" -o c-shared && runs_example ./c-shared
}
c_static() {
    # libraft.a, then the system libraries from Libs.private (--static).
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror cluster.c $(pkg-config --cflags raft) \
        -Wl,-Bstatic -lraft -Wl,-Bdynamic -Wl,--as-needed $(pkg-config --static --libs raft) \
        -o c-static && ! readelf -d c-static | grep -q libraft && runs_example ./c-static
}
check "C example, pkg-config, libraft.so" c_shared
check "C example, pkg-config --static, libraft.a" c_static

cd "$ROOT" || exit 1
check "install again over the install, then --uninstall leaves the prefix empty" \
    bash -c 'bash scripts/install.sh --prefix "$1" && bash scripts/install.sh --uninstall --prefix "$1" &&
             [ -z "$(ls -A "$1")" ]' _ "$PREFIX"
shared_prefix() { # a prefix holding other files keeps exactly those
    local p=$WORK/shared
    mkdir -p "$p/lib" "$p/include" && echo keep >"$p/lib/other.so" && echo keep >"$p/include/other.h"
    (cd "$p" && find . | sort) >"$WORK/before"
    bash scripts/install.sh --prefix "$p" && [ -f "$p/lib/libraft.a" ] || return 1
    bash scripts/install.sh --uninstall --prefix "$p" || return 1
    (cd "$p" && find . | sort) | diff "$WORK/before" -
}
check "uninstall from a shared prefix leaves the other files and directories" shared_prefix

staged() { # make install with PREFIX and DESTDIR, used through the staging dir, then uninstall
    local stage=$WORK/stage
    make -s install PREFIX=/opt/raft DESTDIR="$stage" || return 1
    grep -qx 'prefix=/opt/raft' "$stage/opt/raft/lib/pkgconfig/raft.pc" || return 1
    # The CMake package finds its files relative to itself.
    cmake -S "$WORK/cpp" -B "$WORK/build-staged" -DCMAKE_PREFIX_PATH="$stage/opt/raft" &&
        cmake --build "$WORK/build-staged" && runs_example "$WORK/build-staged/cluster" || return 1
    make -s uninstall PREFIX=/opt/raft DESTDIR="$stage" || return 1
    [ -z "$(ls -A "$stage/opt/raft")" ]
}
check "make install/uninstall PREFIX=/opt/raft DESTDIR=stage" staged

# Lua: the rock into a temporary tree; the program sees only that tree.
TREE=$WORK/tree
rock() {
    luarocks --lua-version=5.4 --tree "$TREE" make "lraft-$version-1.rockspec" &&
        [ -f "$TREE/lib/lua/5.4/lraft.so" ] || return 1
    for m in lua/*.lua; do [ -f "$TREE/share/lua/5.4/$(basename "$m")" ] || return 1; done
}
check "luarocks make lraft-$version-1.rockspec into a temporary tree" rock
lua_program() {
    mkdir -p "$WORK/lua" && cp examples/cluster.lua "$WORK/lua/" && cd "$WORK/lua" || return 1
    LUA_PATH="$TREE/share/lua/5.4/?.lua" LUA_CPATH="$TREE/lib/lua/5.4/?.so" DEMO_DIR="$WORK/lua/data" \
        lua5.4 -e "
            local raft = require('lraft'); require('ldbstorage'); require('lraft.leveldb')
            assert(raft._VERSION == '$version', 'lraft._VERSION is ' .. tostring(raft._VERSION))" \
        cluster.lua
}
check "Lua example on the installed rock (lraft, lraft.leveldb, ldbstorage, _VERSION)" lua_program
default_tree() {
    # Installed without --tree, the rock lands where lua5.4 looks by default.
    local libdir luadir
    libdir=$(luarocks --lua-version=5.4 config deploy_lib_dir) || return 1
    luadir=$(luarocks --lua-version=5.4 config deploy_lua_dir) || return 1
    lua5.4 -e "assert(package.cpath:find('$libdir/?.so', 1, true), package.cpath)
               assert(package.path:find('$luadir/?.lua', 1, true), package.path)"
}
check "luarocks' default tree is on lua5.4's default package paths" default_tree

finish
