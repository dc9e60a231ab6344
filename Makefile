# scanlite — one Makefile. Toggles:
#   SANITIZE=1  address + undefined sanitizers      DEBUG=1  -O0
#   WERROR=1    warnings are errors (CI)            PY=...   Python with Debian's torch
#   TESTS="test_* t_cli"  run only the tests whose names match these globs
#   EMU_AVX512=1  the AVX-512 kernels built on SIMDe (AVX2 underneath) and
#               counted as supported wherever AVX2 is: checks that path on
#               CPUs without AVX-512 (build dir gets -emu512; tests only)
#   FUZZ=1      clang with libFuzzer coverage, ASan and UBSan, in build-fuzz/
#               (what `make fuzz` builds the library with)
# Targets: all (./scanlite, libscanlite.a), deps, test, run, bench, weights,
# fuzz (the libFuzzer targets tests/fuzz_*.c, built into build-fuzz/), clean.
SANITIZE ?= 0
EMU_AVX512 ?= 0
FUZZ ?= 0
DEBUG ?= 0
WERROR ?= 0
PY ?= /usr/bin/python3

CC ?= cc
BUILD := build
ifeq ($(SANITIZE),1)
BUILD := build-san
endif
ifeq ($(EMU_AVX512),1)
BUILD := $(BUILD)-emu512
endif
ifeq ($(FUZZ),1)
BUILD := build-fuzz
CC := clang
endif

OPT := -O2
ifeq ($(DEBUG),1)
OPT := -O0
endif
# -ffp-contract=off: a * b + c is never fused into one FMA behind the code's
# back (GCC's default in ISO C mode; clang's is to fuse), so the C and the
# intrinsics paths round alike whichever compiler builds them.
CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -MMD -MP -I. \
          -I/usr/include/stb -fno-strict-aliasing -ffp-contract=off -pthread
LDFLAGS := -pthread
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(FUZZ),1)
CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
          -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif
LIBS := -lstb -lsqlite3 -lcrypt -lm

# Debian packages: runtime/build, then test-only.
DEPS_BUILD := libstb-dev libmicrohttpd-dev libsqlite3-dev libcrypt-dev pkg-config
DEPS_TEST := clang libsimde-dev python3-torch python3-torchvision python3-onnx python3-numpy python3-pil curl chromium nodejs npm

LIB_SRC := $(wildcard nn/*.c nn/ops/*.c nn/kernels/*.c io/*.c)
SRV_SRC := $(wildcard server/*.c)
SRV_ASM := $(wildcard server/*.S)
WEB_FILES := $(wildcard server/web/*)
TOOL_SRC := $(wildcard tools/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
SRV_OBJ := $(SRV_SRC:%.c=$(BUILD)/%.o) $(SRV_ASM:%.S=$(BUILD)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
FUZZ_BIN := $(FUZZ_SRC:tests/%.c=build-fuzz/%)

LIBA := $(BUILD)/libscanlite.a
SRVA := $(BUILD)/libscanlite_srv.a

.PHONY: all deps test run bench weights fuzz clean
# ./scanlite and ./libscanlite.a are always the default (uninstrumented)
# build; a sanitizer build stays in build-san/.
ifeq ($(SANITIZE),1)
all: deps $(BUILD)/scanlite $(LIBA)
else
all: deps scanlite libscanlite.a
endif

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# One ISA per file in nn/kernels: only these objects get the ISA flags; isa.c
# calls them after checking the CPU. Everything else keeps the default flags.
$(BUILD)/nn/kernels/%_avx2.o: CFLAGS += -mavx2 -mfma
# EMU_AVX512=1: the same file on SIMDe, which only needs AVX2 and FMA.
ifeq ($(EMU_AVX512),1)
$(BUILD)/nn/kernels/%_avx512.o: CFLAGS += -mavx2 -mfma -DNN_EMULATE_AVX512
$(BUILD)/nn/kernels/isa.o: CFLAGS += -DNN_EMULATE_AVX512
else
$(BUILD)/nn/kernels/%_avx512.o: CFLAGS += -mavx512f -mfma
endif
# Same for io: io_crc32.c calls the PCLMULQDQ folding only after CPUID.
$(BUILD)/io/%_pclmul.o: CFLAGS += -mpclmul -msse4.1
# io_sha256.c calls the SHA-NI block function only after CPUID.
$(BUILD)/io/%_shani.o: CFLAGS += -msha -msse4.1 -mssse3
# io_resize.c hands out the AVX2 resize passes only where nn_isa_supported.
$(BUILD)/io/%_avx2.o: CFLAGS += -mavx2 -mfma

# The reference resize passes (gray images, CPUs without AVX2) are integer
# loops GCC vectorizes only at -O3 (1.5 -> 1.1 ms for a 0.3 MP photo).
ifneq ($(DEBUG),1)
$(BUILD)/io/io_resize.o: CFLAGS += -O3
endif

# Web assets are embedded with .incbin from server/*.S.
$(BUILD)/%.o: %.S $(WEB_FILES) server/srv_web_files.h | deps
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

ifeq ($(SRV_OBJ),)
$(SRVA):
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@
else
$(SRVA): $(SRV_OBJ)
	@rm -f $@
	ar rcs $@ $^
endif

libscanlite.a: $(LIBA)
	cp $< $@

# The binary of the current build flavour; ./scanlite is the default build's.
$(BUILD)/scanlite: $(TOOL_OBJ) $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(SRVA) $(LIBA) $(LIBS)

scanlite: $(BUILD)/scanlite
	cp $< $@

$(BUILD)/tests/%: tests/%.c $(SRVA) $(LIBA) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SRVA) $(LIBA) $(LIBS)

deps:
	@sh tools/deps.sh $(DEPS_BUILD) -- $(DEPS_TEST)

# The fuzz targets link the library built by clang with FUZZ=1 flags.
fuzz: deps
	@sh tools/deps.sh clang
	@$(MAKE) --no-print-directory FUZZ=1 $(FUZZ_BIN)

build-fuzz/fuzz_%: tests/fuzz_%.c $(SRVA) $(LIBA)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SRVA) $(LIBA) $(LIBS)

test: deps $(BUILD)/scanlite $(TEST_BIN)
	@BUILD=$(BUILD) PY=$(PY) SANITIZE=$(SANITIZE) EMU_AVX512=$(EMU_AVX512) TESTS="$(TESTS)" sh tests/run.sh

run: deps scanlite
	@sh tools/run.sh

bench: deps scanlite
	@PY=$(PY) sh bench/run.sh

# Re-makes the demo model from simulated data (weights/README.md).
weights: all
	sh weights/make_demo.sh

clean:
	rm -rf build build-san build-emu512 build-san-emu512 build-clang-san build-fuzz scanlite libscanlite.a

-include $(LIB_OBJ:.o=.d) $(SRV_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TEST_BIN:=.d) $(FUZZ_BIN:=.d)
