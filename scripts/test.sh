#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this). Installs what it needs.
#   scripts/test.sh            everything
# Needs: a Rust toolchain (rustup), network access to crates.io for the first build, and the
# shared captures at ../shared/captures (beside this repository).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain: MCU target and components"
rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

step "Debian packages (scripts/packages.txt)"
want=$(grep -v '^\s*#' scripts/packages.txt | tr -s ' \n' ' ')
missing=""
for p in $want; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  else
    echo "warning: missing packages ($missing); tests that need them will fail" >&2
  fi
fi

if [ ! -d ../shared/captures ]; then
  echo "error: ../shared/captures not found (the shared test captures live beside the repo)" >&2
  exit 1
fi

step "format"
cargo fmt --all -- --check

step "core builds for the MCU (thumbv7em-none-eabihf), with and without defmt"
cargo build --locked -p wardtap-core --target thumbv7em-none-eabihf
cargo build --locked -p wardtap-core --target thumbv7em-none-eabihf --features defmt
cargo build --locked -p wardtap-core --target thumbv7em-none-eabihf --features profile-512k
cargo build --locked -p wardtap-proto --target thumbv7em-none-eabihf

step "lints"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "tests (unit, golden, property, CLI)"
cargo test --locked --workspace

step "firmware: emulated board (mps2-an386) build, lints, sizes, and end to end in QEMU"
(cd firmware/boards/mps2-an386 \
  && cargo fmt -- --check \
  && cargo clippy --locked --release -- -D warnings \
  && cargo clippy --locked --release --features capture-clock -- -D warnings \
  && cargo build --locked --release)
arm-none-eabi-size -A target/boards/thumbv7em-none-eabihf/release/wardtap-mps2-an386 \
  | grep -E '^\.(vector_table|text|rodata|data|bss|uninit) '
cargo test --locked -p wardtap-tests --test qemu_e2e -- --ignored

step "firmware: real board (NUCLEO-H743ZI) build, lints, sizes (no hardware in CI: build only)"
(cd firmware/boards/nucleo-h743zi \
  && cargo fmt -- --check \
  && cargo clippy --locked --release -- -D warnings \
  && cargo clippy --locked --release --features forced-100fd -- -D warnings \
  && cargo build --locked --release \
  && [ "$(cargo tree --locked -e normal -i smoltcp --depth 0)" = "smoltcp v0.12.0" ])  # one smoltcp: no embassy-net
h7=target/boards/thumbv7em-none-eabihf/release/wardtap-nucleo-h743zi
arm-none-eabi-size -A "$h7" | grep -E '^\.(vector_table|text|rodata|data|bss|uninit) '
# Budgets: flash (code + read-only data + .data's initial image) <= 256 KiB; static RAM
# (.data + .bss + .uninit) <= the 512 KiB AXI SRAM it is linked into (the stack is in DTCM).
arm-none-eabi-size -A "$h7" | awk '
  $1 ~ /^\.(vector_table|text|rodata)$/ { flash += $2 }
  $1 == ".data" { flash += $2; ram += $2 }
  $1 ~ /^\.(bss|uninit)$/ { ram += $2 }
  END {
    printf "nucleo-h743zi: flash %d bytes (budget 262144), AXI SRAM %d bytes (region 524288)\n", flash, ram
    if (flash > 262144 || ram > 524288 || flash == 0 || ram == 0) { print "error: over budget"; exit 1 }
  }'
# Its hardware-free part (persist's slots on the H7's 32-byte flash words) on the host, with
# simulated power cuts. Run from here so the board's thumbv7em target does not apply.
h7t=firmware/boards/nucleo-h743zi/host-tests/Cargo.toml
cargo fmt --manifest-path "$h7t" -- --check
cargo clippy --locked --manifest-path "$h7t" --all-targets -- -D warnings
cargo test --locked --manifest-path "$h7t"
