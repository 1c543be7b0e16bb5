#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs: formatting and lint checks, the Rust
# unit and integration tests (which build the Stata double), then the official Python MCP
# SDK, the TypeScript SDK and the MCP Inspector CLI driving the real server binary.
#
#   bash tests/run.sh               the suite (the slurm-mode tests are listed as ignored)
#   bash tests/run.sh --with-slurm  also starts a one-node SLURM cluster on this machine (needs
#                                   root and the Debian package index) and runs the slurm-mode
#                                   tests against it; every daemon it started is stopped
set -euo pipefail
cd "$(dirname "$0")/.."

with_slurm=0
for arg in "$@"; do
  case "$arg" in
    --with-slurm) with_slurm=1 ;;
    *) echo "usage: bash tests/run.sh [--with-slurm]" >&2; exit 2 ;;
  esac
done

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo build --bins --examples
cargo test
# The tests that read the real Stata logs in ../shared (ignored above): run when it is there.
if [ -d ../shared/real-logs ] && [ -d ../shared/fixtures/stata-logs ]; then
  cargo test --test real_logs --test log_parsing --test double_behaviour -- --ignored
else
  echo "NOTE: ../shared (the real Stata logs) is not beside this checkout: the tests that read it did not run (they are listed as ignored)" >&2
fi

venv=target/py
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check 'mcp>=2,<3' 'pytest>=8'
STATA_MCP_BIN="$PWD/target/debug/stata-mcp" \
STATA_DOUBLE="$PWD/target/debug/examples/stata-double" \
  "$venv/bin/python" -m pytest -q tests/python

# The official TypeScript SDK and the MCP Inspector's CLI (its --strict schema check), pinned
# in tests/node/package-lock.json.
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
STATA_MCP_BIN="$PWD/target/debug/stata-mcp" \
STATA_DOUBLE="$PWD/target/debug/examples/stata-double" \
  node --test tests/node/

if [ "$with_slurm" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "--with-slurm starts SLURM's daemons and needs root" >&2
    exit 1
  fi
  bash tests/slurm/cluster.sh install
  cluster=$(mktemp -d /tmp/stata-mcp-slurm.XXXXXX)
  trap 'bash tests/slurm/cluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
  bash tests/slurm/cluster.sh start "$cluster"
  SLURM_CONF="$cluster/slurm.conf" STATA_MCP_TEST_SLURM=1 \
    cargo test --test slurm_e2e -- --ignored --test-threads 4
fi

# The server keeps its research record in the folder it serves: no test may serve this checkout.
if [ -e stata-record ]; then
  echo "a test left stata-record/ in the checkout: give its server a folder of its own" >&2
  exit 1
fi
