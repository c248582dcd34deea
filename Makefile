# dashdot — top-level commands. Everything installs what it needs (scripts/deps.sh) first.
#   make          build build/dashdot (with the web UI embedded)
#   make run      build and start a server with a local agent (dashdot demo)
#   make test     build and run every test (also under ASan+UBSan); ends with "N passed, N failed"
#   make test-clock  unit and time-sensitive integration tests at 22 fake wall-clock times (~1 h)
#   make bench    side-by-side benchmarks (bench/)
#   make fuzz     run each libFuzzer target for FUZZ_SECONDS (default 60)
#   make clean
SHELL := /bin/bash
BUILD ?= build
RUN_ARGS ?= --listen 127.0.0.1:8080 --data data
FUZZ_SECONDS ?= 60

.PHONY: all build deps web run test test-clock bench bench-storage bench-catalog fuzz clean

all: build

deps:
	@bash scripts/deps.sh build

web: deps
	@bash scripts/web.sh

build: deps web
	@if [ ! -f $(BUILD)/build.ninja ]; then \
		meson setup $(BUILD) --wrap-mode=nofallback >/dev/null; fi
	@ninja -C $(BUILD) | grep -v '^ninja: no work to do' || true
	@test -x $(BUILD)/dashdot

run: build
	./$(BUILD)/dashdot demo $(RUN_ARGS)

test:
	@bash scripts/deps.sh test
	@bash scripts/web.sh
	@bash scripts/test.sh

test-clock:
	@bash scripts/test-clock.sh

bench:
	@bash scripts/deps.sh bench
	@$(MAKE) --no-print-directory build
	@bash bench/agent/run.sh

bench-storage:
	@bash bench/storage/run.sh

bench-catalog: build
	@bash bench/catalog/run.sh

fuzz:
	@bash scripts/deps.sh test
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-clang build-fuzz web/dist
