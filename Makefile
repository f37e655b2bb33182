# Conventional entry points; the work is done by the scripts they call.
#   make install   [PREFIX=/usr/local] [DESTDIR=]   C library, headers, pkg-config, CMake package
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]   removes exactly what install put there
#   make test                                       the whole test suite (scripts/test.sh)
#   make demo                                       the README's demo (scripts/demo.sh)
# The targets lua and lua-install are what luarocks runs for the lraft rock
# (lraft-*.rockspec); they build with cargo and copy lraft.so and lua/*.lua.
PREFIX ?= /usr/local
DESTDIR ?=
CARGO_TARGET_DIR ?= target

.PHONY: all install uninstall test demo lua lua-install
all:
	cargo build --release -p raft-ffi
install:
	DESTDIR="$(DESTDIR)" bash scripts/install.sh --prefix "$(PREFIX)"
uninstall:
	DESTDIR="$(DESTDIR)" bash scripts/install.sh --uninstall --prefix "$(PREFIX)"
test:
	bash scripts/test.sh
demo:
	bash scripts/demo.sh

lua:
	cargo build --release -p lraft
lua-install:
	test -n "$(INST_LIBDIR)" && test -n "$(INST_LUADIR)"
	mkdir -p "$(INST_LIBDIR)" "$(INST_LUADIR)"
	cp "$(CARGO_TARGET_DIR)/release/liblraft.so" "$(INST_LIBDIR)/lraft.so"
	cp lua/*.lua "$(INST_LUADIR)/"
