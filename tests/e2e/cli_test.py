# SPDX-License-Identifier: Apache-2.0
"""The command line: --help documents every flag with its environment variable and
default, flags can come from the environment (the command line wins), bad flags
and values exit 2, and the default output is stdout, announced once on stderr."""
import os
import re
import subprocess

from harness import BIN, CE, Gateway, event, run_tests

# Every flag the issue and DESIGN.md name, with the environment variable --help must show.
FLAGS = {
    "--listen": "TOLLGATE_LISTEN",
    "--shards": "TOLLGATE_SHARDS",
    "--upstream": "OPENMETER_URL",
    "--upstream-token": "OPENMETER_TOKEN",
    "--max-head-bytes": "TOLLGATE_MAX_HEAD_BYTES",
    "--max-headers": "TOLLGATE_MAX_HEADERS",
    "--max-body-bytes": "TOLLGATE_MAX_BODY_BYTES",
    "--max-events-per-request": "TOLLGATE_MAX_EVENTS_PER_REQUEST",
    "--max-connections": "TOLLGATE_MAX_CONNECTIONS",
    "--header-timeout-ms": "TOLLGATE_HEADER_TIMEOUT_MS",
    "--body-timeout-ms": "TOLLGATE_BODY_TIMEOUT_MS",
    "--idle-timeout-ms": "TOLLGATE_IDLE_TIMEOUT_MS",
    "--buffer-bytes": "TOLLGATE_BUFFER_BYTES",
    "--admit-timeout-ms": "TOLLGATE_ADMIT_TIMEOUT_MS",
    "--drain-timeout-ms": "TOLLGATE_DRAIN_TIMEOUT_MS",
    "--recv-buffers": "TOLLGATE_RECV_BUFFERS",
    "--recv-buffer-bytes": "TOLLGATE_RECV_BUFFER_BYTES",
    "--log-level": "TOLLGATE_LOG_LEVEL",
}


def run(args, env=None, timeout=20):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([BIN] + args, capture_output=True, timeout=timeout, env=full, stdin=subprocess.DEVNULL)


def help_blocks(text):
    """{flag: its block of help text} for every line that starts a flag."""
    blocks = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^\s{2}(--[a-z0-9-]+)", line)
        if m:
            current = m.group(1)
            blocks[current] = line
        elif current:
            blocks[current] += "\n" + line
    return blocks


def test_help_documents_every_flag():
    r = run(["--help"])
    assert r.returncode == 0, r
    text = r.stdout.decode()
    blocks = help_blocks(text)
    for flag, env in FLAGS.items():
        assert flag in blocks, "--help does not document %s" % flag
        b = blocks[flag]
        assert "[env %s;" % env in b, "%s: no env %s in %r" % (flag, env, b)
        assert "default:" in b, "%s: no default in %r" % (flag, b)
    # Every documented flag (other than --help/--version) names an env var and a default.
    for flag, b in blocks.items():
        if flag in ("--help", "--version"):
            continue
        assert re.search(r"\[env [A-Z_]+; default: [^\]]+\]", b), "%s lacks env/default: %r" % (flag, b)
    assert "Exit status" in text
    v = run(["--version"])
    assert v.returncode == 0 and v.stdout.startswith(b"tollgate "), v


def test_bad_flags_exit_2():
    cases = [
        ["--no-such-flag"],
        ["--shards"],                       # missing value
        ["--shards", "abc"],
        ["--max-body-bytes", "-1"],
        ["--log-level", "loud"],
        ["--upstream", "ftp://x"],
        ["--buffer-bytes", "4096", "--max-body-bytes", "4096"],  # ring under twice the body bound
        ["--listen", "no-port-here"],
        ["--listen", "127.0.0.1:0", "--upstream", "file:/nonexistent-dir/x/out.jsonl"],
        ["--buffer-bytes", "18014398509481984GiB"],  # the multiplication would wrap (issue 16)
        ["--max-body-bytes", "2GiB", "--buffer-bytes", "8GiB"],  # over the 32-bit offsets' bound
        ["--max-head-bytes", "32MiB"],
        ["--max-events-per-request", "4294967297"],
    ]
    for args in cases:
        r = run(args)
        assert r.returncode == 2, "%r exited %d: %r" % (args, r.returncode, r.stderr)
        assert r.stderr.strip(), "%r: nothing said on stderr" % args
        assert b"listening" not in r.stderr, args
        assert b"Sanitizer" not in r.stderr and b"runtime error" not in r.stderr, r.stderr
    # The bounds are named with their flag.
    for args, words in [(["--max-body-bytes", "2GiB", "--buffer-bytes", "8GiB"], b"--max-body-bytes: at most 1GiB"),
                        (["--max-head-bytes", "32MiB"], b"--max-head-bytes: at most 16MiB"),
                        (["--max-events-per-request", "2000000"], b"--max-events-per-request: at most 1000000"),
                        (["--buffer-bytes", "18014398509481984GiB"], b"--buffer-bytes: \"18014398509481984GiB\" is too large")]:
        r = run(args)
        assert r.returncode == 2 and words in r.stderr, (args, r.returncode, r.stderr)
    # A bad value in the environment is a usage error too.
    r = run(["--listen", "127.0.0.1:0"], env={"TOLLGATE_SHARDS": "many"})
    assert r.returncode == 2, r


def test_a_port_another_process_listens_on_is_refused_even_with_so_reuseport():
    # SO_REUSEPORT would let a second tollgate (or any server of the same user
    # that sets it) join the first one's port and take a share of its clients.
    with Gateway() as first:
        r = run(["--listen", "127.0.0.1:%d" % first.port, "--upstream", "file:/dev/null"])
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert b"another process is listening there" in r.stderr, r.stderr
        assert b"listening" not in r.stderr.replace(b"is listening there", b""), r.stderr
        assert first.request("GET", "/healthz").status == 200
        first.stop()


def test_env_and_precedence():
    with Gateway("--shards", "1", output=None,
                 env={"TOLLGATE_SHARDS": "2", "OPENMETER_URL": "file:/dev/null"}) as g:
        assert g.listening["shards"] == 1, g.listening      # command line wins
        assert g.listening["output"] == "/dev/null", g.listening  # OPENMETER_URL used
        g.stop()
    with Gateway(output=None, env={"TOLLGATE_SHARDS": "2", "TOLLGATE_MAX_BODY_BYTES": "1KiB"}) as g:
        assert g.listening["shards"] == 2, g.listening
        body = event("too-big-for-env-bound", data={"pad": "x" * 1100})
        assert g.post(event("fits"), CE).status == 204
        r = g.post(body, CE)
        assert r.status == 413, r      # the bound came from the environment
        g.stop()


def test_default_output_is_stdout_announced_once():
    with Gateway("--shards", "1", output=None, stdout=subprocess.PIPE) as g:
        evs = [event("stdout-%d" % i) for i in range(3)]
        for ev in evs:
            assert g.post(ev, CE).status == 204
        g.send_signal()
        out, _ = g.proc.communicate(timeout=20)
        g.rc = g.proc.returncode
        g.stop()
        notes = [l for l in g.log_lines() if "no upstream configured" in l.get("msg", "")]
        assert len(notes) == 1, g.stderr()
    assert out == b"".join(ev + b"\n" for ev in evs), out


if __name__ == "__main__":
    run_tests(globals())
