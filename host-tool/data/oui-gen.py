#!/usr/bin/env python3
"""Regenerate host-tool/data/oui.tsv (read by host-tool/src/oui.rs) from IEEE registry CSVs.

Usage:  python3 host-tool/data/oui-gen.py DIR [SOURCE-NOTE] > host-tool/data/oui.tsv

DIR holds the IEEE CSV downloads (columns: Registry,Assignment,Organization Name,Organization Address):
  MA-L  oui.csv             https://standards-oui.ieee.org/oui/oui.csv
  MA-M  mam.csv or oui28.csv https://standards-oui.ieee.org/oui28/mam.csv
  MA-S  oui36.csv           https://standards-oui.ieee.org/oui36/oui36.csv
  IAB   iab.csv             https://standards-oui.ieee.org/iab/iab.csv
Debian's `ieee-data` package (/usr/share/ieee-data) and the `oui-data` crate (its data/ folder) ship
the same files. CID is left out on purpose: CIDs have the locally-administered bit set and are not
vendor-unique station addresses. Entries that name no vendor ("Private", the IEEE RA's own
umbrella blocks) are dropped too, so a lookup returns None rather than a non-answer.
Output: one `PREFIX<TAB>Organization` line per assignment, PREFIX being 6, 7 or 9 upper-case hex
digits (24/28/36 bits), sorted; whitespace in names collapsed. Lines starting with '#' are comments.
"""
import csv
import os
import re
import sys

FILES = [("MA-L", ["oui.csv"], 6), ("MA-M", ["mam.csv", "oui28.csv"], 7), ("MA-S", ["oui36.csv"], 9),
         ("IAB", ["iab.csv"], 9)]
NO_VENDOR = {"private", "ieee registration authority"}


def clean(name):
    # NBSP, zero-width and bidi marks, runs of spaces: all become one space.
    name = re.sub(r"[\s\u00a0\u200b-\u200f\ufeff]+", " ", name)
    return name.strip()


def main():
    src = sys.argv[1]
    note = sys.argv[2] if len(sys.argv) > 2 else src
    out = {}
    for registry, names, digits in FILES:
        path = next((os.path.join(src, n) for n in names if os.path.exists(os.path.join(src, n))), None)
        if path is None:
            sys.exit(f"missing {registry} file ({' or '.join(names)}) in {src}")
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                if len(row) < 3 or row[0] != registry:
                    continue
                prefix, name = row[1].strip().upper(), clean(row[2])
                if not re.fullmatch(r"[0-9A-F]{%d}" % digits, prefix) or not name:
                    sys.exit(f"{path}: bad row {row!r}")
                if name.lower() in NO_VENDOR or prefix in out:
                    continue
                out[prefix] = name
    print(f"# IEEE MA-L/MA-M/MA-S/IAB assignments from {note}; regenerate with host-tool/data/oui-gen.py")
    for prefix in sorted(out):
        print(f"{prefix}\t{out[prefix]}")


if __name__ == "__main__":
    main()
