#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Docs are checked like code: every file the README, docs/ and the area READMEs
# link to or name by its repository path exists, and none of them points
# outside the repository.
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOP = ("src/", "include/", "tests/", "tools/", "scripts/", "bench/", "docs/", "share/", "dist/")


def markdown_files():
    yield os.path.join(ROOT, "README.md")
    for base in ("docs", "src", "tools", "bench", "tests", "include"):
        for d, _, files in os.walk(os.path.join(ROOT, base)):
            for f in files:
                if f.endswith(".md") and f != "RESULTS.md":
                    yield os.path.join(d, f)


def problems(path):
    text = open(path, encoding="utf-8").read()
    rel = os.path.relpath(path, ROOT)
    here = os.path.dirname(path)
    if "../shared" in text:
        yield f"{rel}: points at ../shared, which is not in the repository"
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        target = target.split("#", 1)[0]
        if not os.path.exists(os.path.normpath(os.path.join(here, target))):
            yield f"{rel}: link to {target}, which does not exist"
    for name in re.findall(r"`([^`\s]+)`", text):
        if not name.startswith(TOP) or any(c in name for c in "<>*{}$"):
            continue
        name = name.split(":", 1)[0].rstrip(".,")
        if not os.path.exists(os.path.join(ROOT, name)):
            yield f"{rel}: names {name}, which does not exist"


def main():
    found = [p for f in markdown_files() for p in problems(f)]
    checked = len(list(markdown_files()))
    for p in found:
        print("FAIL:", p)
    print(f"{checked} markdown files checked, {len(found)} problems")
    return 1 if found or checked < 5 else 0


if __name__ == "__main__":
    sys.exit(main())
