# bulletin - one non-recursive Makefile.  Output goes to build/.
# `make` builds build/bulletin and build/libbulletin.a; `make check` runs every test
# (normal build and AddressSanitizer+UBSan build); `make demo` renders the sample.

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0
CC      ?= cc
OPT     ?= -O2 -g

PKGS := harfbuzz harfbuzz-subset freetype2 icu-uc icu-i18n libcmark yaml-0.1 libpng libjpeg zlib libdeflate fontconfig
# Recursive (=) on purpose: expanded only when a recipe runs, i.e. after the
# dependency check below has installed anything that was missing.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
# The program and libbulletin.a load ICU, fontconfig, libjpeg and hb-subset
# at run time (src/icu.h, src/dynlib.h): they link the rest.  The tests also
# call those libraries directly.
LATE_PKGS := icu-uc icu-i18n fontconfig libjpeg harfbuzz-subset
# The program links Debian's static libdeflate and libhyphen: two shared
# libraries fewer to map at every start (-0.11 ms of a bulletin's 8).  Both
# read only what the program itself makes or the system's dictionaries;
# the libraries that parse untrusted input stay shared, for security updates.
STATIC_LIBS = -Wl,-Bstatic $(shell pkg-config --libs libdeflate) -lhyphen -Wl,-Bdynamic
BIN_LIBS   = $(shell pkg-config --libs $(filter-out $(LATE_PKGS) libdeflate,$(PKGS))) -lhpdf $(STATIC_LIBS) -lm
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lhpdf -lhyphen -lm

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wwrite-strings
DEFS := -D_XOPEN_SOURCE=700 -DBL_VERSION='"$(VERSION)"' \
        -DBL_DATADIR='"$(PREFIX)/share/bulletin"'
ALL_CFLAGS = $(WARN) $(OPT) $(DEFS) -Isrc $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c))
TEST_SRC := $(wildcard tests/test-*.c)
LIB_OBJ  := $(LIB_SRC:src/%.c=build/obj/%.o)
SAN_OBJ  := $(LIB_SRC:src/%.c=build/asan/%.o)
TESTS    := $(TEST_SRC:tests/%.c=build/tests/%)
SAN_TESTS:= $(TEST_SRC:tests/%.c=build/asan/tests/%)
DEPSTAMP := build/.deps-ok

.PHONY: all check demo install deps clean samples golden bench
all: build/bulletin build/libbulletin.a

# Installs missing Debian packages, only when a pkg-config or file check fails.
$(DEPSTAMP): tools/install-deps.sh
	@mkdir -p build
	@if pkg-config --exists $(PKGS) && [ -f /usr/include/hpdf.h ] && [ -f /usr/include/hyphen.h ] \
	   && [ -f /usr/share/hyphen/hyph_en_US.dic ] && [ -f /usr/share/unicode/BidiCharacterTest.txt ] \
	   && command -v hb-shape >/dev/null && command -v pdftotext >/dev/null \
	   && command -v qpdf >/dev/null && command -v mutool >/dev/null; then :; \
	 else sh tools/install-deps.sh; fi
	@touch $@
deps: $(DEPSTAMP)

build/obj/%.o: src/%.c | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/asan/%.o: src/%.c | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -c $< -o $@

build/libbulletin.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
build/asan/libbulletin.a: $(SAN_OBJ)
	rm -f $@ && ar rcs $@ $^

build/bulletin: build/obj/main.o build/libbulletin.a
	$(CC) $(OPT) -o $@ $^ $(BIN_LIBS) $(LDFLAGS)
build/asan/bulletin: build/asan/main.o build/asan/libbulletin.a
	$(CC) $(OPT) $(SAN) -o $@ $^ $(BIN_LIBS) $(LDFLAGS)

build/tests/%: tests/%.c tests/harness.h build/libbulletin.a | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< build/libbulletin.a $(PKG_LIBS)
build/asan/tests/%: tests/%.c tests/harness.h build/asan/libbulletin.a | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -Itests -o $@ $< build/asan/libbulletin.a $(PKG_LIBS)

check: all build/asan/bulletin $(TESTS) $(SAN_TESTS)
	@sh tests/run.sh

demo: all
	@./build/bulletin samples/mod-2021-11-24.en-he.md -o build/mod-2021-11-24.en-he.pdf
	@echo "$(CURDIR)/build/mod-2021-11-24.en-he.pdf"

# Rewrites the golden layout traces (tests/golden/*.txt); review the diff.
golden: build/bulletin
	sh tests/golden.sh build/bulletin --update

# The samples are made from the shared corpus (../shared/corpus).
samples:
	sh tools/corpus-source.sh en he > samples/mod-2021-11-24.en-he.md
	sh tools/corpus-source.sh fr ar > samples/mod-2021-11-24.fr-ar.md

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/share/bulletin/fonts $(DESTDIR)$(PREFIX)/share/bulletin/layouts
	install -m 755 build/bulletin $(DESTDIR)$(PREFIX)/bin/bulletin
	install -m 644 build/libbulletin.a $(DESTDIR)$(PREFIX)/lib/libbulletin.a
	install -m 644 src/bulletin.h $(DESTDIR)$(PREFIX)/include/bulletin.h
	install -m 644 fonts/*.ttf fonts/OFL.txt fonts/README.md $(DESTDIR)$(PREFIX)/share/bulletin/fonts/
	install -m 644 layouts/*.yaml $(DESTDIR)$(PREFIX)/share/bulletin/layouts/

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(SAN_OBJ:.o=.d) build/obj/main.d build/asan/main.d $(TESTS:=.d) $(SAN_TESTS:=.d)

# `make bench`: an optimised build of its own under build/bench (no sanitizers,
# assertions off), the timing runner and the HarfBuzz + libdeflate floor, then
# bench/run.sh, which generates the inputs and prints the table and targets.
# Never part of `make check`; a missed target does not fail it.
BENCH_OBJ := $(LIB_SRC:src/%.c=build/bench/obj/%.o) build/bench/obj/main.o
build/bench/%: OPT = -O2 -g -DNDEBUG
build/bench/obj/%.o: src/%.c | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/bench/bulletin: $(BENCH_OBJ)
	$(CC) $(OPT) -o $@ $^ $(BIN_LIBS) $(LDFLAGS)
build/bench/runner: bench/runner.c bench/timing.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) $(CFLAGS) -o $@ $< $(LDFLAGS)
build/bench/floor: bench/floor.c bench/timing.h | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) $(shell pkg-config --cflags harfbuzz libdeflate) $(CFLAGS) -o $@ $< \
	  $(shell pkg-config --libs harfbuzz libdeflate) $(LDFLAGS)
bench: build/bench/bulletin build/bench/runner build/bench/floor
	@sh bench/run.sh build/bench
-include $(BENCH_OBJ:.o=.d)
