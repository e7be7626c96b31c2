# SPDX-License-Identifier: Apache-2.0
"""The /status page in headless Chromium: a Python http.server on 127.0.0.1
serves the page exactly as the binary holds it and a sequence of status.json
snapshots made by the real renderer (status_fixture); the DOM Chromium renders
after the page polled them all must show the rates, p99, fill, spool, upstream
states and errors those snapshots imply. A screenshot is kept in the build
directory (status_page.png). Exits 77 when chromium is not installed.

usage: status_page_test.py STATUS_FIXTURE ARTIFACT_DIR"""
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STEPS = 12
CHROMIUM_TIMEOUT = 90
# Without these Chromium tries the network (component updates, sync, QUIC
# probes) and can stall on a machine with no route out.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--mute-audio", "--hide-scrollbars"]


class Server:
    """GET /status: the page; GET /status.json: snapshot n on the n-th request, then the last."""

    def __init__(self, page, snapshots):
        self.polls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path == "/status":
                    body, ctype = page, "text/html; charset=utf-8"
                elif self.path == "/status.json":
                    body = snapshots[min(outer.polls, len(snapshots) - 1)].encode()
                    outer.polls += 1
                    ctype = "application/json"
                else:
                    # The page must load nothing else (no external or extra assets).
                    outer.unexpected = self.path
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.unexpected = None
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/status" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Dom(html.parser.HTMLParser):
    """Elements with an id: their attributes and text (descendants' text included)."""

    def __init__(self):
        super().__init__()
        self.by_id = {}
        self.open = []  # [tag, id or None]
        self.li = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "li":
            self.li.append("")
        if tag in VOID:
            if "id" in a:
                self.by_id[a["id"]] = {"attrs": a, "text": ""}
            return
        self.open.append((tag, a.get("id")))
        if "id" in a:
            self.by_id[a["id"]] = {"attrs": a, "text": ""}

    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.by_id[a["id"]] = {"attrs": a, "text": ""}

    def handle_endtag(self, tag):
        while self.open:
            t, _ = self.open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, i in self.open:
            if i is not None:
                self.by_id[i]["text"] += data
        if self.open and any(t == "li" for t, _ in self.open) and self.li:
            self.li[-1] += data


def text(dom, eid):
    assert eid in dom.by_id, "no element #%s in the page" % eid
    return dom.by_id[eid]["text"].strip()


def value(dom, eid):
    return float(dom.by_id[eid]["attrs"]["data-v"])


# The page's own number formatting (status.html fmtNum / fmtBytes / fmtSeconds).
def fmt_num(v):
    a = abs(v)
    if a >= 1e6:
        return "%.2fM" % (v / 1e6)
    if a >= 1e4:
        return "%.1fk" % (v / 1e3)
    if a >= 10 or float(v).is_integer():
        return str(int(round(v)))
    return "%.1f" % v


def fmt_bytes(b):
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    i = 0
    while b >= 1024 and i < len(units) - 1:
        b /= 1024
        i += 1
    return (str(b) if i == 0 else "%.1f" % b) + " " + units[i]


def interval_p99(first, last):
    """Upper bound of the bucket holding the p99 of the batches between two snapshots."""
    le = last["upstream"]["latency_s"]["le"]
    counts = [b - a for a, b in zip(first["upstream"]["latency_s"]["counts"], last["upstream"]["latency_s"]["counts"])]
    total, seen = sum(counts), 0
    if total == 0:
        return None
    for bound, c in zip(le, counts):
        seen += c
        if seen >= 0.99 * total:
            return bound
    return None


def chromium(binary, url, user_dir, *extra):
    args = [binary] + CHROMIUM_FLAGS + ["--user-data-dir=" + user_dir,
                                        # Virtual time runs the page's 1 s poll STEPS times
                                        # (network fetches pause it), so no real waiting.
                                        "--virtual-time-budget=%d" % (STEPS * 1000 + 1500)] + list(extra) + [url]
    r = subprocess.run(args, capture_output=True, timeout=CHROMIUM_TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "chromium exited %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-3000:])
    return r


def main():
    fixture, artifacts = sys.argv[1], sys.argv[2]
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        print("SKIP: chromium is not installed (Debian package chromium; scripts/deps.sh installs it)")
        sys.exit(77)
    page = subprocess.run([fixture, "--page"], capture_output=True, check=True, timeout=30).stdout
    lines = subprocess.run([fixture, str(STEPS)], capture_output=True, check=True, timeout=30).stdout.decode()
    snapshots = lines.splitlines()
    snaps = [json.loads(s) for s in snapshots]
    assert len(snaps) == STEPS

    server = Server(page, snapshots)
    try:
        with tempfile.TemporaryDirectory(prefix="tollgate-chromium-") as tmp:
            r = chromium(binary, server.url, os.path.join(tmp, "profile-dom"), "--dump-dom")
            dom_text = r.stdout.decode()
            polls = server.polls
            os.makedirs(artifacts, exist_ok=True)
            shot = os.path.join(artifacts, "status_page.png")
            if os.path.exists(shot):
                os.remove(shot)
            server.polls = 0  # the same sequence again, so the picture shows rates too
            chromium(binary, server.url, os.path.join(tmp, "profile-shot"), "--window-size=1280,860",
                     "--screenshot=" + shot)
            with open(os.path.join(artifacts, "status_page_dom.html"), "w") as f:
                f.write(dom_text)
    finally:
        server.close()
    assert server.unexpected is None, "the page requested %s" % server.unexpected
    assert polls >= STEPS, "the page polled status.json %d times, expected at least %d" % (polls, STEPS)
    assert os.path.getsize(shot) > 10000, "screenshot too small: %d bytes" % os.path.getsize(shot)

    dom = Dom()
    dom.feed(dom_text)
    last, prev, first = snaps[-1], snaps[-2], snaps[0]
    dt = last["time"] - prev["time"]
    checks = 0

    def expect(eid, want, v=None):
        nonlocal checks
        got = text(dom, eid)
        assert got == want, "#%s shows %r, the snapshots say %r" % (eid, got, want)
        if v is not None:
            assert abs(value(dom, eid) - v) < 1e-6 * max(1, abs(v)), "#%s data-v %r, expected %r" % (
                eid, dom.by_id[eid]["attrs"].get("data-v"), v)
        checks += 1

    assert text(dom, "version") == "v" + last["version"]
    expect("ready", "ready" if last["ready"] else "not ready")
    total_in = (sum(s["events_in"] for s in last["shards"]) - sum(s["events_in"] for s in prev["shards"])) / dt
    total_out = (sum(s["events_out"] for s in last["shards"]) - sum(s["events_out"] for s in prev["shards"])) / dt
    expect("t-in", fmt_num(total_in), total_in)
    expect("t-out", fmt_num(total_out), total_out)
    waiting = sum(s["upstream"]["waiting"] for s in last["shards"])
    expect("t-waiting", fmt_num(waiting), waiting)
    fills = [100 * s["buffer"]["used_bytes"] / s["buffer"]["capacity_bytes"] for s in last["shards"]]
    expect("t-buffer", "%.1f%%" % max(fills))
    expect("t-spool", fmt_bytes(sum(s["spool"]["bytes"] for s in last["shards"])))
    expect("t-dead", fmt_num(sum(s["dead_lettered"] for s in last["shards"])))
    for i, (sh, old, sh0) in enumerate(zip(last["shards"], prev["shards"], first["shards"])):
        rin = (sh["events_in"] - old["events_in"]) / dt
        rout = (sh["events_out"] - old["events_out"]) / dt
        expect("s%d-in" % i, fmt_num(rin), rin)
        expect("s%d-out" % i, fmt_num(rout), rout)
        p99 = interval_p99(sh0, sh)
        if p99 is None:
            expect("s%d-p99" % i, "–")
        else:
            expect("s%d-p99" % i, fmt_num(p99 * 1000) + " ms" if p99 < 1 else fmt_num(p99) + " s", p99)
        expect("s%d-buffer" % i, "%.1f%%" % fills[i])
        hot = "bar hot" if fills[i] >= 90 else "bar"
        assert dom.by_id["s%d-bar" % i]["attrs"]["class"] == hot, dom.by_id["s%d-bar" % i]
        spool = fmt_bytes(sh["spool"]["bytes"]) + " · " + str(sh["spool"]["segments"]) + " seg"
        expect("s%d-spool" % i, spool)
        state = {"connected": "connected", "idle": "idle", "backing_off": "backing off"}[sh["upstream"]["state"]]
        expect("s%d-state" % i, state)
        expect("s%d-connections" % i, str(sh["connections"]), sh["connections"])
        expect("s%d-waiting" % i, fmt_num(sh["upstream"]["waiting"]), sh["upstream"]["waiting"])
        # One sparkline point per rate: one fewer than the snapshots seen.
        assert dom.by_id["s%d-in-spark" % i]["attrs"].get("data-points") == str(STEPS - 1), dom.by_id["s%d-in-spark" % i]
    assert "<polyline" in dom_text

    # Last errors: every error counter that moved between snapshots, newest first.
    errors = [e.strip() for e in dom.li]
    wanted = []
    for k in range(1, STEPS):
        for i, (sh, old) in enumerate(zip(snaps[k]["shards"], snaps[k - 1]["shards"])):
            for st, n in sh["upstream"]["outcomes"].items():
                d = n - old["upstream"]["outcomes"].get(st, 0)
                if not st.startswith("2") and d:
                    wanted.append("shard %d: upstream %s +%d" % (i, st, d))
            d = sh["dead_lettered"] - old["dead_lettered"]
            if d:
                wanted.append("shard %d: dead-lettered +%d" % (i, d))
    assert wanted, "the fixture moves no error counter: the test would prove nothing"
    for w in wanted:
        assert any(e.endswith(w) for e in errors), "%r not in the error list %r" % (w, errors)
    assert len(errors) == len(wanted), (errors, wanted)
    print("ok: %d values checked against %d snapshots, %d errors listed; screenshot %s" % (
        checks, STEPS, len(errors), shot))


if __name__ == "__main__":
    main()
