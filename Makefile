# Stride: top-level entry points. `make quickstart` and `make test` are the two commands of the README.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test quickstart format clean bench

all: build

deps:
	@bash ops/install_deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@bash tests/prepare_oracles.sh
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

quickstart: build
	@$(BUILD_DIR)/bin/stride run configs/quickstart.yaml overwrite=true

format:
	@find common model job rollout trainer reward buffer scheduler tests bench \
	  \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' \) -print0 | xargs -0 clang-format -i

clean:
	@rm -rf $(BUILD_DIR)
