#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs: formatting and lint checks, the Rust
# unit and integration tests (which build the Stata double), then the official Python MCP
# SDK, the TypeScript SDK and the MCP Inspector CLI driving the real server binary.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo build --bins --examples
cargo test

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
