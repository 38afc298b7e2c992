#!/usr/bin/env bash
# Runs every fuzz target of firmware/core/fuzz briefly, from seeds cut out of the shared
# captures.   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET=20] [TARGET...]
#
# Works on the stable toolchain: `cargo fuzz ... --sanitizer none` needs no nightly flag
# (only the sanitizers need -Zsanitizer); `-a` keeps debug assertions and overflow checks on,
# which is what matters for this crate (no unsafe: ASan would add little). Set
# FUZZ_SANITIZER=address to use ASan where a nightly toolchain is the default.
# Needs: cargo-fuzz (installed here with `cargo install --locked cargo-fuzz` if missing), a C++
# compiler (libfuzzer-sys builds libFuzzer). Crashes land in firmware/core/fuzz/artifacts/.
# Exits non-zero when a target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift || true
san=${FUZZ_SANITIZER:-none}

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

echo "== seeds from ../shared/captures"
cargo run -q --release -p wardtap-core --example fuzz_seeds

cd firmware/core/fuzz
if [ $# -eq 0 ]; then
  set -- $(cargo fuzz list)
fi
echo "== build (sanitizer: $san)"
cargo fuzz build -a --sanitizer "$san"
triple=$(rustc -vV | sed -n 's/^host: //p')

failed=""
for t in "$@"; do
  log=$(mktemp)
  # -max_len: the tap target's seeds are runs of frames, larger than libFuzzer's default.
  max_len=4096
  [ "$t" = tap ] && max_len=65536
  # The binaries built above, run directly: `cargo fuzz run` would rebuild first.
  mkdir -p "artifacts/$t"
  if "target/$triple/release/$t" -artifact_prefix="artifacts/$t/" \
      -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "corpus/$t" >"$log" 2>&1; then
    printf '%-10s ok    %s\n' "$t" "$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') execs"
  else
    printf '%-10s CRASH\n' "$t"
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written|^Base64' "$log" | head -8 | sed 's/^/    /'
    failed="$failed $t"
  fi
  rm -f "$log"
done
if [ -n "$failed" ]; then
  echo "crashed:$failed (inputs in firmware/core/fuzz/artifacts/)"
  exit 1
fi
