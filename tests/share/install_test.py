# SPDX-License-Identifier: Apache-2.0
"""`meson install` into a scratch DESTDIR puts exactly the operator's kit in
place: the three binaries, a man page for each, the systemd unit (ExecStart
naming the installed binary) and share/tollgate/ (alert rules, dashboard,
example environment file); the installed binaries run.

usage: install_test.py BUILD_DIR PREFIX BINDIR MANDIR DATADIR"""
import os
import subprocess
import sys
import tempfile


def main():
    build, prefix, bindir, mandir, datadir = sys.argv[1:6]
    with tempfile.TemporaryDirectory(prefix="tollgate-install-") as dest:
        r = subprocess.run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, "meson install failed: %s%s" % (r.stdout, r.stderr)
        root = os.path.join(dest, prefix.lstrip("/"))
        got = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(dest) for f in fs)
        want = sorted([os.path.join(bindir, b) for b in ("tollgate", "tollgate-load", "tollgate-sink")] +
                      [os.path.join(mandir, "man1", b + ".1") for b in ("tollgate", "tollgate-load", "tollgate-sink")] +
                      [os.path.join("lib", "systemd", "system", "tollgate.service")] +
                      [os.path.join(datadir, "tollgate", f)
                       for f in ("tollgate-alerts.yml", "tollgate-dashboard.json", "tollgate.env")])
        assert got == want, "installed:\n  %s\nexpected:\n  %s" % ("\n  ".join(got), "\n  ".join(want))
        for b in ("tollgate", "tollgate-load"):
            v = subprocess.run([os.path.join(root, bindir, b), "--version"], capture_output=True, text=True, timeout=30)
            assert v.returncode == 0 and v.stdout.startswith(b + " "), (b, v)
        h = subprocess.run([os.path.join(root, bindir, "tollgate-sink"), "--help"], capture_output=True, timeout=30)
        assert h.returncode == 0 and h.stdout.startswith(b"tollgate-sink"), h
        with open(os.path.join(root, "lib", "systemd", "system", "tollgate.service")) as f:
            unit = f.read()
        assert "\nExecStart=%s\n" % os.path.join(prefix, bindir, "tollgate") in unit, unit
        print("ok: %d files installed" % len(got))


if __name__ == "__main__":
    main()
