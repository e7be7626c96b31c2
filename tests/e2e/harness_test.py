# SPDX-License-Identifier: Apache-2.0
"""The harness's own behaviour (issue 9): run_tests() in a child process with
tests that pass, fail and skip in every order. A skip must never hide a failure
before or after it, and every test still runs after a skip."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = '''
import sys
sys.path.insert(0, %(here)r)
from harness import Skip, run_tests
%(defs)s
run_tests(globals())
'''

BODIES = {
    "ok": "    pass",
    "fail": "    raise AssertionError('boom')",
    "skip": "    raise Skip('no io_uring here')",
}


def run_child(kinds):
    """Runs a test file whose tests behave as `kinds` in order; returns (rc, output)."""
    defs = "\n".join("def test_%d_%s():\n    print('ran %d')\n%s\n" % (i, k, i, BODIES[k])
                     for i, k in enumerate(kinds))
    with tempfile.TemporaryDirectory(prefix="tollgate-harness-") as d:
        path = os.path.join(d, "child_test.py")
        with open(path, "w") as f:
            f.write(CHILD % {"here": HERE, "defs": defs})
        env = dict(os.environ, TOLLGATE_BIN=sys.executable, PYTHONDONTWRITEBYTECODE="1")
        r = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=60, env=env)
    return r.returncode, r.stdout + r.stderr


CASES = [
    (["ok", "ok"], 0),
    (["skip", "ok"], 77),
    (["ok", "skip"], 77),
    (["fail", "skip"], 1),   # the failure before the skip is not hidden
    (["skip", "fail"], 1),   # the tests after a skip still run
    (["skip", "ok", "fail", "skip"], 1),
    (["skip", "skip"], 77),
    (["fail"], 1),
]


def main():
    bad = 0
    for kinds, want in CASES:
        rc, out = run_child(kinds)
        ran = all(("ran %d" % i) in out for i in range(len(kinds)))
        if rc != want or not ran:
            bad += 1
            print("FAIL %s: exit %d (want %d), every test ran: %s\n%s" % (kinds, rc, want, ran, out))
        else:
            print("ok   %s -> %d" % (kinds, rc))
    print("%d failed" % bad if bad else "all passed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
