# The entry points of README.md. Each installs the missing Debian packages first.
#   make run     build, then run the quick-start example
#   make test    build, then run the whole CTest suite
#   make bench   build, then run the benchmarks
#   make bench-compare  runnel beside Redis, NATS, SQLite and the raw limit; QUICK=1: ~1 minute
#   make asan    build with AddressSanitizer+UBSan and run the tests
#   make tsan    build with ThreadSanitizer and run the tests labelled for it
#   make fuzz    build the libFuzzer targets with clang and fuzz each for FUZZ_SECONDS
#   make torture build, then run the torture suite's long form (crashes, power cuts, full
#                disks, corrupt files, soak) and print its table; ROUNDS=, SECONDS=, SEED=
#                and TORTURES="name ..." override its defaults (test/torture/README.md)
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

.PHONY: deps build run test bench bench-compare asan tsan fuzz torture clean

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build build -j $(JOBS)

run: build
	build/examples/quickstart

test: build
	ctest --test-dir build --output-on-failure -j $(JOBS)

bench: build
	build/bench/runnel_bench --benchmark_min_time=0.5

# Installs the peers (scripts/install-bench-deps.sh), runs bench/compare/runnel_compare and
# writes bench/results/README.md with its charts (bench/README.md, "runnel beside its peers").
bench-compare: deps
	@scripts/install-bench-deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNNEL_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build build -j $(JOBS) --target runnel_compare
	build/bench/compare/runnel_compare $(if $(QUICK),--quick) --out bench/results/results.json
	python3 bench/compare/report.py bench/results/results.json bench/results

asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRUNNEL_SANITIZE=address -DRUNNEL_BUILD_BENCH=OFF
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j $(JOBS) -LE slow

tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNNEL_SANITIZE=thread -DRUNNEL_BUILD_BENCH=OFF
	cmake --build build-tsan -j $(JOBS) --target concurrency_tests
	ctest --test-dir build-tsan --output-on-failure -j $(JOBS) -L concurrency

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNNEL_FUZZ=ON \
	  -DRUNNEL_BUILD_BENCH=OFF -DRUNNEL_BUILD_EXAMPLES=OFF
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	scripts/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

torture: build
	build/test/torture/runnel_torture --long $(if $(ROUNDS),--rounds $(ROUNDS)) \
	  $(if $(SECONDS),--seconds $(SECONDS)) $(if $(SEED),--seed $(SEED)) $(TORTURES)

clean:
	rm -rf build build-asan build-tsan build-fuzz
