#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Code shown in docs/ is code that is compiled and run.

A fenced block in docs/*.md preceded by the line
    <!-- quoted from PATH -->
must appear, line for line, as a contiguous run of lines in PATH (relative
to the source tree), which the build compiles and ctest runs (an example or
a test). This check fails when a document and its source drift apart, and
when a document has no quoted block at all where it promises one.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARK = re.compile(r"^<!-- quoted from (\S+) -->$")


def blocks(doc):
    lines = open(doc, encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        m = MARK.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            yield doc, i + 1, m.group(1), None
            continue
        try:
            end = lines.index("```", i + 2)
        except ValueError:
            yield doc, i + 1, m.group(1), None
            continue
        yield doc, i + 1, m.group(1), lines[i + 2:end]


def contains(haystack, needle):
    n = len(needle)
    return any(haystack[k:k + n] == needle for k in range(len(haystack) - n + 1))


def main():
    failures, checked = 0, 0
    for doc in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        for path, line, src, code in blocks(doc):
            where = f"{os.path.relpath(path, ROOT)}:{line}"
            if code is None:
                print(f"{where}: the quote mark is not followed by a fenced block")
                failures += 1
                continue
            full = os.path.join(ROOT, src)
            if not os.path.isfile(full):
                print(f"{where}: quotes {src}, which does not exist")
                failures += 1
                continue
            if not code or not contains(open(full, encoding="utf-8").read().splitlines(), code):
                print(f"{where}: the block is not a verbatim part of {src}")
                failures += 1
                continue
            checked += 1
    print(f"{checked} quoted blocks match their sources, {failures} do not")
    return 1 if failures or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
