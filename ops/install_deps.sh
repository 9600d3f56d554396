#!/usr/bin/env bash
# Installs the Debian packages Stride needs, only those that are missing.
# Idempotent and quiet when everything is present. Called by `make deps`.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libopenblas-dev libopenblas-openmp-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libonig-dev libutf8proc-dev
  libzmq3-dev libsodium-dev libprotobuf-dev protobuf-compiler librocksdb-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcpp-httplib-dev prometheus-cpp-dev
  libseccomp-dev libcli11-dev
  libsnappy-dev libzstd-dev zlib1g-dev liblz4-dev libbrotli-dev  # Parquet pages (job/parquet/)
  lz4  # the test-only Parquet writer's LZ4 pages (tests/parquet_oracle/make_fixtures.mjs)
  zstd  # the test-only Parquet writer's Zstd pages (tests/parquet_oracle/make_fixtures.mjs)
  prometheus
  python3 python3-torch python3-numpy python3-zmq python3-protobuf
  python3-jinja2  # test-only: Python jinja2, the engine transformers renders chat templates with
  nodejs npm
  chromium  # renders `stride report` pages headless in tests/scheduler/test_report.cpp
  # Jobs across machines (tests/cluster): a local Slurm, network namespaces, offline k8s checks
  slurm-wlm munge iproute2 python3-kubernetes python3-yaml
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# nodejs may come from another source on some images; accept a working node and npm.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
filtered=()
for p in "${missing[@]}"; do [ -n "$p" ] && filtered+=("$p"); done

if [ ${#filtered[@]} -gt 0 ]; then
  echo "install_deps: installing ${filtered[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
fi
