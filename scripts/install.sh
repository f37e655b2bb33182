#!/usr/bin/env bash
# Builds the C library in release mode and installs it under a prefix, or
# removes exactly what an earlier install put there.
#
#   scripts/install.sh [--prefix DIR]              # default /usr/local
#   scripts/install.sh --uninstall [--prefix DIR]
#   DESTDIR=/stage scripts/install.sh --prefix /usr   # staged, for packaging
#
# Installs (PREFIX = DESTDIR + --prefix):
#   lib/libraft.so.X.Y.Z (soname libraft.so.X), lib/libraft.so.X and
#   lib/libraft.so links, lib/libraft.a, include/<every header of include/>,
#   lib/pkgconfig/raft.pc, lib/cmake/raft/raftConfig{,Version}.cmake,
#   share/doc/raft/LICENSE*, and share/raft/install-manifest.txt, the list of
#   files and of the directories the install created, which --uninstall
#   reads. Installing again first removes the previous install.
# The Lua module is installed by luarocks instead (see lraft-*.rockspec).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

prefix=/usr/local
mode=install
while [ $# -gt 0 ]; do
    case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --uninstall) mode=uninstall; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case $prefix in
/*) ;;
*) echo "install.sh: --prefix must be an absolute path (got '$prefix')" >&2; exit 2 ;;
esac
prefix=${prefix%/}
DEST=${DESTDIR:-}$prefix
MANIFEST_REL=share/raft/install-manifest.txt

# Native libraries a Rust static library needs on Linux (rustc
# --print native-static-libs); they go into raft.pc's Libs.private and
# raft::raft_static's link interface.
STATIC_LIBS="gcc_s util rt pthread m dl c"

uninstall() { # removes the files of the manifest, then the directories it created
    local manifest=$DEST/$MANIFEST_REL kind rel
    if [ ! -f "$manifest" ]; then
        echo "install.sh: nothing to uninstall: $manifest not found" >&2
        return 1
    fi
    local entries
    entries=$(cat "$manifest")
    while read -r kind rel; do
        case $kind in f | l) rm -f "$DEST/$rel" ;; esac
    done <<<"$entries"
    # Directories deepest first; one that now holds someone else's files stays.
    grep '^d ' <<<"$entries" | cut -c3- | sort -r | while read -r rel; do
        rmdir "$DEST/$rel" 2>/dev/null || true
    done
    echo "uninstalled raft from $DEST"
}

if [ "$mode" = uninstall ]; then
    uninstall
    exit $?
fi

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -p raft-ffi
version=$(cargo pkgid -p raft-ffi | sed 's/.*[#@]//')
IFS=. read -r major minor _ <<<"$version"
[ -f "$DEST/$MANIFEST_REL" ] && uninstall

mkdir -p "$DEST"
manifest_entries=()
ensure_dir() { # ensure_dir REL: creates DEST/REL, recording each directory it creates
    local rel=$1 path=""
    local IFS=/
    for part in $rel; do
        path=${path:+$path/}$part
        if [ ! -d "$DEST/$path" ]; then
            mkdir "$DEST/$path"
            manifest_entries+=("d $path")
        fi
    done
}
put() { # put MODE SRC REL: installs a file
    ensure_dir "$(dirname "$3")"
    install -m "$1" "$2" "$DEST/$3"
    manifest_entries+=("f $3")
}
link() { # link TARGET REL: a relative symbolic link
    ln -sfn "$1" "$DEST/$2"
    manifest_entries+=("l $2")
}
subst() { # subst TEMPLATE: fills in the @NAME@ fields
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" \
        -e "s|@MAJOR@|$major|g" -e "s|@MINOR@|$minor|g" \
        -e "s|@STATIC_LIBS@|$(printf -- '-l%s ' $STATIC_LIBS | sed 's/ $//')|g" \
        -e "s|@STATIC_LIBS_CMAKE@|$(echo $STATIC_LIBS | tr ' ' ';')|g" \
        -e "s|@POINTER_SIZE@|$(($(getconf LONG_BIT) / 8))|g" "$1"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

put 755 "$TARGET/release/libraft.so" "lib/libraft.so.$version"
link "libraft.so.$version" "lib/libraft.so.$major"
link "libraft.so.$major" lib/libraft.so
put 644 "$TARGET/release/libraft.a" lib/libraft.a
while IFS= read -r h; do # every header, keeping subdirectories of include/
    put 644 "$h" "$h"
done < <(find include -type f | sort)
subst packaging/raft.pc.in >"$tmp/raft.pc"
put 644 "$tmp/raft.pc" lib/pkgconfig/raft.pc
for f in raftConfig.cmake raftConfigVersion.cmake; do
    subst "packaging/$f.in" >"$tmp/$f"
    put 644 "$tmp/$f" "lib/cmake/raft/$f"
done
for f in LICENSE LICENSE-MIT LICENSE-APACHE; do
    put 644 "$f" "share/doc/raft/$f"
done

ensure_dir "$(dirname "$MANIFEST_REL")"
manifest_entries+=("f $MANIFEST_REL")
printf '%s\n' "${manifest_entries[@]}" >"$DEST/$MANIFEST_REL"
echo "installed raft $version into $DEST"
