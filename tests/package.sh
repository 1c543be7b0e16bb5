#!/usr/bin/env bash
# The packaging checks, one command (slow: it installs the tools it needs from the package
# registries, and builds the release binary):
#   1. the release archive for this machine (`dist build`), its checksum, and the binary
#      unpacked in a fresh folder: `--version` and a full MCP session (the Python SDK tests);
#   2. the shell installer against a loopback copy of the release (its download URL
#      overridden), into a temporary HOME: the binary lands on that HOME's PATH and runs;
#   3. the Python wheel (maturin, `bindings = "bin"`), installed with pip into a fresh
#      virtual environment, serving the Python SDK tests; and run with `uvx --from` the wheel;
#   4. the Claude Desktop bundle (.mcpb) packed and validated by the official CLI, unpacked,
#      and started from its manifest as Claude Desktop starts it;
#   5. actionlint on .github/workflows, which `dist generate` has kept up to date;
#   6. server.json against the MCP Registry's published schema.
# What it built is left in target/dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/dist
tools=target/package-tools
work=$(mktemp -d /tmp/stata-mcp-package.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# target/dist is also cargo's folder for the `dist` profile: only what this script puts there
# (files at its top) is cleared.
mkdir -p "$out"
find "$out" -maxdepth 1 -type f ! -name .cargo-lock -delete

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
host=$(rustc -vV | sed -n 's/^host: //p')
echo "package: stata-mcp $version for $host"

# The tools, from the registries, pinned.
if [ ! -x "$tools/bin/python" ]; then
  python3 -m venv "$tools"
fi
"$tools/bin/pip" install --quiet --disable-pip-version-check \
  'astral-dev-toolchain-cargo-dist==0.33.0' 'maturin==1.16.0' 'check-jsonschema==0.39.0' \
  'skillsaw==0.22.0' 'uv' 'mcp>=2,<3' 'pytest>=8'
npm ci --prefix tests/package --no-audit --no-fund --loglevel=error
cargo build --examples --quiet
double="$PWD/target/debug/examples/stata-double"

# 5 first (it needs no build): the workflows are what `dist generate` makes, and lint clean.
"$tools/bin/dist" generate --check
node tests/package/lint_workflows.mjs .github/workflows

# 1. The release archive for this machine.
"$tools/bin/dist" build --artifacts=all --target "$host" >"$work/dist.log" 2>&1 \
  || { cat "$work/dist.log"; exit 1; }
cp target/distrib/stata-mcp-"$host".tar.xz* target/distrib/stata-mcp-installer.sh "$out"/
archive="stata-mcp-$host.tar.xz"
(cd "$out" && sha256sum -c "$archive.sha256")
mkdir "$work/unpacked"
tar -xJf "$out/$archive" -C "$work/unpacked"
bin="$work/unpacked/stata-mcp-$host/stata-mcp"
"$bin" --version | grep -qx "stata-mcp $version (.*)" || { "$bin" --version; exit 1; }
STATA_MCP_BIN="$bin" STATA_DOUBLE="$double" "$tools/bin/python" -m pytest -q tests/python

# 2. The shell installer, from a loopback copy of the release, into a fresh HOME.
port=$("$tools/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$tools/bin/python" -m http.server "$port" --bind 127.0.0.1 --directory "$out" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/$archive.sha256" 2>/dev/null && break
  sleep 0.1
done
home="$work/home"
mkdir -p "$home"
HOME="$home" XDG_CONFIG_HOME="$home/.config" CARGO_HOME="" \
  STATA_MCP_DOWNLOAD_URL="http://127.0.0.1:$port" sh "$out/stata-mcp-installer.sh" \
  >"$work/installer.log" 2>&1 || { cat "$work/installer.log"; exit 1; }
grep -q "stata-mcp doctor" "$work/installer.log" || { cat "$work/installer.log"; exit 1; }
# A new login shell of that user finds it on PATH, as the installer arranged.
env -i HOME="$home" PATH=/usr/bin:/bin bash -lc 'command -v stata-mcp && stata-mcp --version' \
  | tee "$work/installed.txt"
grep -q "^$home/" "$work/installed.txt"
grep -q "^stata-mcp $version" "$work/installed.txt"
kill "$server_pid"
server_pid=""

# 3. The wheel: pip into a fresh environment, then uvx from the wheel file.
# maturin reads packaging/pyproject.toml from the folder it runs in (its Cargo.toml is `..`).
(cd packaging && "../$tools/bin/maturin" build --profile dist --target "$host" --quiet \
  --out "../$out") >"$work/maturin.log" 2>&1 || { cat "$work/maturin.log"; exit 1; }
wheel=$(ls "$out"/stata_mcp_live-"$version"-*.whl)
python3 -m venv "$work/wheel-env"
"$work/wheel-env/bin/pip" install --quiet --disable-pip-version-check "$wheel"
"$work/wheel-env/bin/stata-mcp" --version | grep -q "^stata-mcp $version"
STATA_MCP_BIN="$work/wheel-env/bin/stata-mcp" STATA_DOUBLE="$double" \
  "$tools/bin/python" -m pytest -q tests/python
UV_CACHE_DIR="$work/uv-cache" "$tools/bin/uvx" --offline --from "$wheel" stata-mcp --version \
  | grep -q "^stata-mcp $version"

# 4. The Claude Desktop bundle.
mcpb="$PWD/tests/package/node_modules/.bin/mcpb"
bundle="$work/bundle"
mkdir -p "$bundle/server"
cp "$bin" "$bundle/server/stata-mcp"
"$tools/bin/python" tests/package/bundle.py manifest packaging/mcpb/manifest.json \
  "$bundle/manifest.json" "$bin" "$version"
"$mcpb" validate "$bundle/manifest.json" >"$work/validate.log" 2>&1 \
  || { cat "$work/validate.log"; exit 1; }
if grep -qi "warn" "$work/validate.log"; then cat "$work/validate.log"; exit 1; fi
"$mcpb" pack "$bundle" "$out/stata-mcp.mcpb" >"$work/pack.log" 2>&1 \
  || { cat "$work/pack.log"; exit 1; }
if grep -qi "warn" "$work/pack.log"; then cat "$work/pack.log"; exit 1; fi
mkdir "$work/unpacked-bundle" "$work/project"
"$mcpb" unpack "$out/stata-mcp.mcpb" "$work/unpacked-bundle" >/dev/null
"$tools/bin/python" tests/package/bundle.py start "$work/unpacked-bundle" "$double" "$work/project"

# 6. server.json for the MCP Registry: this version, the bundle's hash, the registry's schema.
sha=$(sha256sum "$out/stata-mcp.mcpb" | cut -d' ' -f1)
sed -e "s/\"0\.0\.0\"/\"$version\"/g" -e "s#/v0\.0\.0/#/v$version/#" -e "s/0\{64\}/$sha/" \
  packaging/server.json >"$out/server.json"
schema=$("$tools/bin/python" -c 'import pathlib, skillsaw; print(pathlib.Path(skillsaw.__file__).parent / "schemas/mcp_registry/v2025_12_11/server.schema.json")')
"$tools/bin/check-jsonschema" --schemafile "$schema" "$out/server.json"

echo "package: all checks passed; built in $out:"
find "$out" -maxdepth 1 -type f ! -name .cargo-lock -printf '  %f\n' | sort
