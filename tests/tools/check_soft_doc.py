#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docs/soft-firmware.md quotes tests/unit/test_soft_example.c exactly.

The example in the document is the code between the `--8<--` and `-->8--`
markers of the test, which ctest compiles and runs; this check fails when
the two drift apart.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST = os.path.join(ROOT, "tests", "unit", "test_soft_example.c")
DOC = os.path.join(ROOT, "docs", "soft-firmware.md")
FENCE_MARK = "<!-- quoted from tests/unit/test_soft_example.c -->"


def code_region():
    lines = open(TEST, encoding="utf-8").read().splitlines()
    start = lines.index("/* --8<-- docs/soft-firmware.md */")
    end = lines.index("/* -->8-- */")
    return lines[start + 1:end]


def doc_region():
    lines = open(DOC, encoding="utf-8").read().splitlines()
    i = lines.index(FENCE_MARK)
    if lines[i + 1] != "```c":
        sys.exit(f"{DOC}: a ```c block must follow {FENCE_MARK}")
    end = lines.index("```", i + 2)
    return lines[i + 2:end]


def main():
    code, doc = code_region(), doc_region()
    if code != doc:
        for n, (a, b) in enumerate(zip(code, doc)):
            if a != b:
                print(f"line {n + 1} of the example differs:\n  test: {a!r}\n  doc:  {b!r}")
                break
        else:
            print(f"the example has {len(code)} lines in the test, {len(doc)} in the document")
        return 1
    print(f"docs/soft-firmware.md quotes the compiled example ({len(code)} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
