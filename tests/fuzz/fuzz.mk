# tests/fuzz/fuzz.mk - libFuzzer harnesses, included by the top Makefile.
#
#   make fuzz [FUZZ_SECONDS=60]   build into build-fuzz/ and run each harness
#   make fuzz-build               build only
#
# The project's libraries are built again with clang and
# -fsanitize=fuzzer-no-link,address,undefined in $(FUZZ_B); each harness
# tests/fuzz/fuzz_<name>.c links them with libFuzzer's main.

FUZZ_B ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SAN := fuzzer-no-link,address,undefined
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_B)/%)
FUZZ_LIBS := $(FUZZ_B)/libserver.a $(FUZZ_B)/libagent.a $(FUZZ_B)/libcommon.a

.PHONY: fuzz fuzz-build fuzz-libs

fuzz-libs:
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) \
		SANITIZE=$(FUZZ_SAN) CFLAGS="-O1 -g" $(FUZZ_LIBS)

fuzz-build: fuzz-libs
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) \
		SANITIZE=$(FUZZ_SAN) CFLAGS="-O1 -g" $(FUZZ_BIN)

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_LIBS)
	$(FUZZ_CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -Itests/fuzz \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIBS) $(LIBS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) FUZZ_NOBUILD=1 \
		FUZZ_B=$(FUZZ_B) tests/fuzz/run.sh
