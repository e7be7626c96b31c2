# SPDX-License-Identifier: Apache-2.0
"""The man pages meson builds from each binary's --help: groff formats them
with no warning, every entry of --help (flag, endpoint) starts an entry of the
page, every environment variable tollgate --help names is in ENVIRONMENT, and
the usual sections are there. The pages are generated, so this tests the
generator (share/man/man_from_help.py) on today's --help texts. Exits 77 when
groff is missing.

usage: man_test.py BIN PAGE [BIN PAGE]..."""
import os
import re
import shutil
import subprocess
import sys


def groff(page, *args):
    return subprocess.run(["groff", "-man", "-ww", "-rHY=0", "-rLL=250n"] + list(args) + [page],
                          capture_output=True, text=True, timeout=60)


def check(binary, page):
    name = os.path.basename(binary)
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    r = groff(page, "-z")
    assert r.returncode == 0 and not r.stderr.strip(), "%s: groff warnings:\n%s" % (page, r.stderr)
    r = groff(page, "-Tascii", "-P-c", "-P-b", "-P-o", "-P-u")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    lines = [l.strip() for l in text.splitlines()]
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "SEE ALSO"):
        assert section in text.splitlines(), "%s: no %s section" % (page, section)
    assert lines[lines.index("NAME") + 1].startswith(name + " - "), "%s: NAME line" % page

    entries = [re.split(r" {2,}", l.strip())[0] for l in help_text.splitlines() if re.match(r"^  \S", l)]
    assert len(entries) >= 10, "%s: only %d entries in --help" % (name, len(entries))
    for e in entries:
        tag = re.sub(" +", " ", e)
        assert any(l.startswith(tag) for l in lines), "%s: --help entry %r is not an entry of the page" % (name, tag)
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text))
    for f in flags:
        assert f in text, "%s: %s is in --help but not in the page" % (name, f)
    envs = re.findall(r"\[env ([A-Z0-9_]+);", help_text)
    if envs:
        env_section = text[text.index("\nENVIRONMENT\n"):]
        for v in envs:
            assert re.search(r"^\s+%s$" % v, env_section, re.M), "%s: %s not in ENVIRONMENT" % (name, v)
    print("ok %s: %d entries, %d flags, %d environment variables" % (name, len(entries), len(flags), len(envs)))


def main():
    if not shutil.which("groff"):
        print("SKIP: groff is not installed (Debian package groff-base)")
        sys.exit(77)
    args = sys.argv[1:]
    assert args and len(args) % 2 == 0, __doc__
    for i in range(0, len(args), 2):
        check(args[i], args[i + 1])


if __name__ == "__main__":
    main()
