# SPDX-License-Identifier: Apache-2.0
"""The operator's kit against the real binary: every metric (and label) the
Grafana dashboard and the alert rules use is in a running gateway's /metrics
(one forwarding to tollgate-sink with a spool, one writing to a file, so the
upstream, spool and output families all appear), /metrics passes
`promtool check metrics`, the systemd unit's default environment plus the
example environment file start the gateway, and SIGHUP (systemctl reload)
neither stops it nor loses anything."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

from harness import BATCH, CE, ROOT, Gateway, batch, event, metric_sum, parse_metrics, run_tests, wait_for
from upstreams import Sink

SHARE = os.path.join(ROOT, "share")
DASHBOARD = os.path.join(SHARE, "tollgate", "tollgate-dashboard.json")
ALERTS = os.path.join(SHARE, "tollgate", "tollgate-alerts.yml")
UNIT = os.path.join(SHARE, "systemd", "tollgate.service.in")
ENV_FILE = os.path.join(SHARE, "tollgate", "tollgate.env")
# Labels Prometheus adds, or that every histogram bucket has.
IMPLICIT = {"job", "instance", "le"}


def queries():
    """Every PromQL expression of the dashboard (panels and variables) and the rules."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append(("dashboard: " + p["title"], t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            out.append(("dashboard variable " + v["name"], v["definition"]))
    with open(ALERTS) as f:
        text = f.read()
    # Each rule's expr: a one-liner or a block scalar (indented lines after "expr: |").
    for m in re.finditer(r"- alert: (\w+)\n\s+expr: (?:\|\n((?:\s{10,}.*\n)+)|(.*)\n)", text):
        out.append(("alert " + m.group(1), m.group(2) or m.group(3)))
    assert len(out) > 40, len(out)
    return out


def families(metrics):
    """{family name: set of label names} from parsed samples; histogram series
    (_bucket, _sum, _count) count under their family and their own name."""
    fam = {}
    for (name, labels) in metrics:
        names = {k for k, _ in labels}
        for n in {name, re.sub(r"_(bucket|sum|count)$", "", name)}:
            fam.setdefault(n, set()).update(names)
    return fam


def exported():
    """The union of /metrics of a forwarding gateway with a spool and of a file-output one."""
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        with Gateway("--shards", "2", "--spool-dir", os.path.join(tmp, "spool"), "--linger-ms", "1",
                     "--dead-letter", os.path.join(tmp, "dead.jsonl"), output=sink.url) as g:
            assert g.post(batch([event("ops-%d" % i) for i in range(20)]), BATCH).status == 204
            assert g.post(b"{}", CE).status == 400  # a rejection, so reason labels have a non-zero sample
            # The gateway's own count, not the sink's: the sink counts on receipt,
            # before the gateway has read its answer (and exported the outcome).
            wait_for(lambda: metric_sum(g.metrics(), "tollgate_upstream_events_delivered_total") >= 20,
                     what="events delivered, by the gateway's count")
            fwd = g.request("GET", "/metrics").body.decode()
            g.stop()
        with Gateway("--shards", "1") as g:
            assert g.post(event("ops-file"), CE).status == 204
            g.wait_output(1)
            out = g.request("GET", "/metrics").body.decode()
            g.stop()
    return fwd, out


def test_every_metric_and_label_the_dashboard_and_alerts_use_is_exported():
    fwd, out = exported()
    fam = families(parse_metrics(fwd))
    for k, v in families(parse_metrics(out)).items():
        fam.setdefault(k, set()).update(v)
    checked = set()
    for where, expr in queries():
        used = set()
        for m in re.finditer(r"\b([a-z_][a-z0-9_]*)(\{([^}]*)\})?", expr):
            name = m.group(1)
            if not (name.startswith("tollgate_") or name.startswith("process_")):
                continue
            assert name in fam, "%s uses %s, which a running gateway does not export" % (where, name)
            used.add(name)
            checked.add(name)
            for label in re.findall(r'([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"', m.group(3) or ""):
                if label not in IMPLICIT:
                    assert label in fam[name], "%s: %s has no label %r (it has %s)" % (where, name, label, fam[name])
        for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr):
            for label in (l.strip() for l in group.split(",")):
                if label and label not in IMPLICIT:
                    assert any(label in fam[n] for n in used), "%s groups by %r, which none of %s has" % (
                        where, label, sorted(used))
    # The check covered the families that matter, not only a few.
    for name in ("tollgate_events_accepted_total", "tollgate_upstream_requests_total", "tollgate_spool_bytes",
                 "tollgate_ring_used_bytes", "tollgate_output_events_total", "tollgate_ready",
                 "tollgate_upstream_latency_seconds_bucket", "tollgate_ingest_rejected_total"):
        assert name in checked, "nothing uses %s" % name
    print("   %d metric families used by the dashboard and the alerts, all exported" % len(checked))


def metric_types(text):
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def test_the_metrics_reference_lists_every_exported_family_with_its_type():
    exported_types = {}
    for text in exported():
        exported_types.update(metric_types(text))
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        doc = f.read()
    ref = doc[doc.index("\n## Metrics reference\n"):]
    documented = dict(re.findall(r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \|", ref, re.M))
    missing = sorted(set(exported_types) - set(documented))
    stale = sorted(set(documented) - set(exported_types))
    assert not missing and not stale, "docs/operations.md: undocumented %s, not exported %s" % (missing, stale)
    wrong = {n: (documented[n], t) for n, t in exported_types.items() if documented[n] != t}
    assert not wrong, "types in the docs differ (doc, /metrics): %s" % wrong


def test_docs_link_only_to_files_in_the_repository():
    for doc in (os.path.join(ROOT, "docs", "operations.md"), os.path.join(ROOT, "README.md")):
        with open(doc) as f:
            text = f.read()
        if doc.endswith("operations.md"):
            assert "../shared" not in text, "docs/operations.md names a file outside the repository"
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # a URL, not a file
            path = os.path.normpath(os.path.join(os.path.dirname(doc), target))
            assert path.startswith(ROOT + os.sep) and os.path.exists(path), "%s links to %s, not in the repository" % (
                doc, target)


def test_metrics_pass_promtool_check_metrics():
    promtool = shutil.which("promtool")
    if not promtool:
        print("   promtool is not installed (Debian package prometheus): skipped")
        return
    for text in exported():
        r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
        assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), "promtool check metrics: %s%s" % (
            r.stdout.decode(), r.stderr.decode())


def unit_environment(state_dir, upstream):
    """What systemd would give tollgate: the unit's Environment= lines (with %S
    as state_dir), then the example environment file's lines over them."""
    env = {}
    with open(UNIT) as f:
        for line in f:
            m = re.match(r"^Environment=(\w+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2).replace("%S", state_dir)
    with open(ENV_FILE) as f:
        for line in f:
            m = re.match(r"^(\w+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
    assert {"TOLLGATE_LISTEN", "TOLLGATE_SPOOL_DIR", "TOLLGATE_DEAD_LETTER", "OPENMETER_URL"} <= set(env), env
    env["OPENMETER_URL"] = upstream           # the example points at OpenMeter Cloud
    env["TOLLGATE_LISTEN"] = "127.0.0.1:0"    # the unit listens on every interface, port 4196
    return env


def test_the_unit_defaults_and_example_environment_start_a_spooling_gateway():
    with Sink() as sink, tempfile.TemporaryDirectory() as state:
        os.makedirs(os.path.join(state, "tollgate"))  # StateDirectory=tollgate
        env = unit_environment(state, sink.url)
        for k in [k for k in os.environ if k.startswith("TOLLGATE_") or k.startswith("OPENMETER_")]:
            env.setdefault(k, "")  # nothing from the test's own environment leaks in
        with Gateway(output=None, env=env) as g:
            assert g.post(batch([event("unit-%d" % i) for i in range(10)]), BATCH).status == 204
            wait_for(lambda: sink.stats()["events"] >= 10, what="events at the sink")
            assert os.path.isdir(os.path.join(state, "tollgate", "spool", "shard-0")), os.listdir(state)
            g.stop()


def test_sighup_neither_stops_the_gateway_nor_loses_events():
    with Gateway("--shards", "1") as g:
        assert g.post(event("before-hup"), CE).status == 204
        g.send_signal(signal.SIGHUP)
        assert g.post(event("after-hup"), CE).status == 204
        assert g.alive(), "SIGHUP stopped tollgate: " + g.stderr()
        g.stop()  # SIGTERM: exit 0 after the drain
        ids = [json.loads(line)["id"] for line in g.output()]
    assert ids == ["before-hup", "after-hup"], ids



def test_the_status_page_and_its_snapshot_are_served_by_the_gateway():
    """GET /status is the self-contained page; GET /status.json the snapshot it
    polls, with each shard's counters moving as events are accepted."""
    with Gateway("--shards", "2") as g:
        page = g.request("GET", "/status")
        assert page.status == 200, page
        assert page.header("Content-Type").startswith("text/html"), page
        assert page.header("Cache-Control") == "no-store", page
        assert b"status.json" in page.body and page.body.lstrip().lower().startswith(b"<!doctype html>")
        for i in range(4):
            assert g.post(event("status-%d" % i)).status == 204
        snap = g.request("GET", "/status.json")
        assert snap.status == 200 and snap.header("Content-Type") == "application/json", snap
        j = json.loads(snap.body)
        assert len(j["shards"]) == 2, j
        assert sum(s["events_in"] for s in j["shards"]) == 4, j
        assert j["ready"] is True and j["output"] is not None, j


run_tests(globals())
