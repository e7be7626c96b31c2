# SPDX-License-Identifier: Apache-2.0
"""The systemd unit meson installs: `systemd-analyze verify` says nothing
about it (any warning fails), `systemd-analyze security --offline` rates it
well hardened, it has what running tollgate as a service needs (DynamicUser,
a state directory for the spool, LimitNOFILE, ProtectSystem=strict, no
capabilities, SIGHUP for reload, an environment file), and ExecStart is the
installed binary. Exits 77 when systemd-analyze is missing or cannot verify
units in this container.

usage: systemd_unit_test.py UNIT TOLLGATE_BIN INSTALLED_BIN"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 (locked down) .. 10 (fully exposed); "OK" is below 4


def analyze(*args):
    return subprocess.run(["systemd-analyze"] + list(args), capture_output=True, text=True, timeout=60)


def settings(text):
    """{key: [values]} of the [Service] section."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def main():
    unit, binary, installed = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(unit) as f:
        text = f.read()
    s = settings(text)
    assert s["ExecStart"] == [installed], s["ExecStart"]
    assert s["DynamicUser"] == ["yes"], s.get("DynamicUser")
    assert s["StateDirectory"] == ["tollgate"], s.get("StateDirectory")
    assert "TOLLGATE_SPOOL_DIR=%S/tollgate/spool" in s["Environment"], s["Environment"]
    assert int(s["LimitNOFILE"][0]) >= 65536, s["LimitNOFILE"]
    assert s["ProtectSystem"] == ["strict"], s.get("ProtectSystem")
    assert s["CapabilityBoundingSet"] == [""] and s["AmbientCapabilities"] == [""], "capabilities must be empty"
    assert s["NoNewPrivileges"] == ["yes"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"], s["ExecReload"]
    assert s["EnvironmentFile"] == ["-/etc/tollgate/tollgate.env"], s["EnvironmentFile"]
    # io_uring's system calls must stay allowed by the filter (@system-service holds @aio).
    assert "@system-service" in s["SystemCallFilter"], s["SystemCallFilter"]

    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze is not installed (Debian package systemd)")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        # A trivial unit first: if even that does not verify quietly, this
        # container cannot run systemd-analyze verify and the result would mean nothing.
        probe = os.path.join(tmp, "probe.service")
        with open(probe, "w") as f:
            f.write("[Service]\nType=oneshot\nExecStart=/bin/true\n")
        r = analyze("verify", "--man=no", probe)
        if r.returncode != 0 or r.stderr.strip() or r.stdout.strip():
            print("SKIP: systemd-analyze verify cannot run here: %s" % (r.stderr.strip() or r.stdout.strip()))
            sys.exit(77)
        # Verify the unit as installed, with ExecStart pointing at the built
        # binary (verify checks that the program exists and is executable).
        local = os.path.join(tmp, "tollgate.service")
        with open(local, "w") as f:
            f.write(text.replace("ExecStart=" + installed, "ExecStart=" + os.path.abspath(binary)))
        r = analyze("verify", "--man=no", local)
        out = (r.stdout + r.stderr).strip()
        print("$ systemd-analyze verify tollgate.service\n%s" % (out or "(nothing to say)"))
        assert r.returncode == 0 and not out, "systemd-analyze verify: %s" % out

        r = analyze("security", "--offline=yes", "--no-pager", local)
        print(r.stdout[-3000:], r.stderr)
        m = re.search(r"Overall exposure level for tollgate\.service: ([0-9.]+)", r.stdout)
        if r.returncode != 0 or not m:
            print("SKIP (security part): systemd-analyze security --offline cannot run here: %s" % r.stderr.strip())
            sys.exit(77)
        exposure = float(m.group(1))
        assert exposure <= MAX_EXPOSURE, "exposure %.1f is above %.1f" % (exposure, MAX_EXPOSURE)
    print("ok: verify quiet, exposure %.1f" % exposure)


if __name__ == "__main__":
    main()
