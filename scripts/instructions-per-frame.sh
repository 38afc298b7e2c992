#!/usr/bin/env bash
# Instructions per frame of Tap::process, counted by valgrind's callgrind on a release build.
#   scripts/instructions-per-frame.sh [CAPTURE...]      (names in ../shared/captures, or paths)
# Prints `capture frames instructions instr/frame`, one line per capture. Only the function
# that feeds the frames (examples/callgrind_frames.rs: process_all) is collected: loading the
# capture and building the Tap are not counted. Target: < 1000 instr/frame on mixed LAN traffic.
# WARM=1 measures a second pass over each capture (tables already hold its assets, edges and
# flows: the steady state); the default is a fresh Tap. PROFILE=1 also prints callgrind_annotate's top functions per capture.
# Needs: valgrind (Debian package `valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
  set -- lan-mixed-home-office__ndpi-1kxun.pcap lan-office-teams-switch__ndpi.pcap \
    lan-mixed-services__zeek-var-services.pcap dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap
fi
command -v valgrind >/dev/null || { echo "error: valgrind not installed (apt-get install valgrind)" >&2; exit 1; }

cargo build -q --release -p wardtap-core --example callgrind_frames
bin=target/release/examples/callgrind_frames
warm=()
[ "${WARM:-0}" = 1 ] && warm=(--warm)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-52s %7s %13s %11s\n' capture frames instructions instr/frame
for cap in "$@"; do
  out="$tmp/callgrind.out"
  frames=$(valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no \
    --toggle-collect='*process_all*' "$bin" "${warm[@]}" "$cap" 2>"$tmp/valgrind.log" | cut -f2) \
    || { cat "$tmp/valgrind.log" >&2; exit 1; }
  instr=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
  awk -v c="$(basename "$cap")" -v f="$frames" -v i="$instr" \
    'BEGIN { printf "%-52s %7d %13d %11.0f\n", c, f, i, (f > 0 ? i / f : 0) }'
  if [ "${PROFILE:-0}" = 1 ]; then
    callgrind_annotate --inclusive=no "$out" 2>/dev/null | sed -n '/^Ir/,$p' | head -25
  fi
done
