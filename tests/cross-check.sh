#!/usr/bin/env bash
# Compiles, without running, the code for every OS the project claims: Windows (GNU and
# MSVC, x86-64 and ARM) and macOS (Intel and Apple silicon). It uses Debian's Rust with
# the standard library's source (`-Zbuild-std`), so no other toolchain or linker is needed;
# it installs those packages when they are missing. Any warning in this crate fails it.
#
# Windows runs batch mode only and has no Stata double, so there the library, the binary
# and the tests that do not drive the double are checked; on macOS, every target.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(rustc-web cargo-web rust-web-src binutils-mingw-w64-x86-64)
# The crate's rust-version (Cargo.toml): an older Debian rustc-web is upgraded, not trusted.
need=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
have=$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null | sed 's/^[0-9]*://; s/[^0-9.].*//' || true)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1 \
  || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
  echo "cross-check: installing ${packages[*]} (need Rust $need, have ${have:-none})"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  have=$(dpkg-query -W -f='${Version}' rustc-web | sed 's/^[0-9]*://; s/[^0-9.].*//')
  if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
    echo "cross-check: Debian's rustc-web is $have, older than the crate's $need; add a package source that has a newer one (Debian's security archive does)" >&2
    exit 1
  fi
fi

export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc
cargo=/usr/bin/cargo
failed=()
check() {
  local target=$1
  shift
  local out
  out=$(mktemp)
  echo "cross-check: $target ($*)"
  if ! "$cargo" check --quiet --target "$target" -Zbuild-std --target-dir target/cross "$@" \
    --message-format short >"$out" 2>&1; then
    cat "$out"
    failed+=("$target")
  elif grep -E '^(src|tests|benches)/.*(warning|error)' "$out"; then
    failed+=("$target (warnings)")
  fi
  rm -f "$out"
}

for target in x86_64-pc-windows-gnu x86_64-pc-windows-msvc aarch64-pc-windows-msvc; do
  check "$target" --lib --bins --tests
done
for target in x86_64-apple-darwin aarch64-apple-darwin; do
  check "$target" --all-targets
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "cross-check: failed on: ${failed[*]}"
  exit 1
fi
echo "cross-check: every target compiles without warnings"
