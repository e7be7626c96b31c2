# SPDX-License-Identifier: Apache-2.0
"""The alert rules and the Grafana dashboard, checked with promtool (Debian
package prometheus; exits 77 when it is missing).

  promtool_test.py alerts RULES.yml TESTS.yml
      `promtool check rules` (syntax, templates) and `promtool test rules`
      (every alert fires on its series and not on the healthy ones).
  promtool_test.py dashboard DASHBOARD.json
      The dashboard's structure (unique ids, grid positions, the datasource
      variable on every query, the instance variable in every selector) and
      every panel query's PromQL, with Grafana's variables filled in, through
      `promtool check rules` as recording rules.

Which metrics the rules and the dashboard use, and that a running gateway
exports each one, is tests/e2e/ops_test.py."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def promtool():
    p = shutil.which("promtool")
    if not p:
        print("SKIP: promtool is not installed (Debian package prometheus; scripts/deps.sh installs it)")
        sys.exit(77)
    return p


def run(*args):
    r = subprocess.run([promtool()] + list(args), capture_output=True, text=True, timeout=60)
    out = (r.stdout + r.stderr).strip()
    print("$ promtool %s\n%s" % (" ".join(args), out))
    assert r.returncode == 0, "promtool %s failed (exit %d)" % (args[0:2], r.returncode)
    return out


def check_alerts(rules, tests):
    out = run("check", "rules", rules)
    n = int(re.search(r"SUCCESS: (\d+) rules found", out).group(1))
    assert n >= 10, "only %d rules" % n
    # Every alert the rules define has a unit test that expects it to fire.
    defined = re.findall(r"^\s*- alert: (\w+)", open(rules).read(), re.M)
    with open(tests) as f:
        test_text = f.read()
    fired = set(re.findall(r"alertname: (\w+)\n\s*exp_alerts:\n\s*- exp_labels", test_text))
    missing = [a for a in defined if a not in fired]
    assert not missing, "alerts with no test that makes them fire: %s" % missing
    # promtool resolves rule_files relative to the test file.
    out = run("test", "rules", tests)
    assert "SUCCESS" in out


def grafana_to_promql(expr):
    """A panel query with Grafana's variables replaced by what Prometheus would get."""
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
            .replace("${instance}", ".*").replace("$instance", ".*"))


def check_dashboard(path):
    with open(path) as f:
        dash = json.load(f)
    assert dash["title"] and dash["uid"] == "tollgate", dash.get("uid")
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names == ["datasource", "instance"], names
    ids, queries = set(), []
    for p in dash["panels"]:
        assert p["id"] not in ids, "duplicate panel id %d" % p["id"]
        ids.add(p["id"])
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (p["title"], g)
        if p["type"] == "row":
            continue
        assert p.get("title") and p.get("description"), "panel %d needs a title and a description" % p["id"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (p["title"], p["datasource"])
        assert p["targets"], "panel %r has no query" % p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", (p["title"], t)
            e = t["expr"]
            # Every selector of a tollgate metric is narrowed to the chosen instances.
            for m in re.finditer(r"\b((?:tollgate|process)_[a-z0-9_]+)(\{[^}]*\})?", e):
                assert m.group(2) and 'instance=~"$instance"' in m.group(2), (p["title"], m.group(0))
            queries.append((p["title"], e))
    # Panels must not overlap.
    cells = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, "panels %r and %r overlap" % (cells[(x, y)], p["title"])
                cells[(x, y)] = p["title"]
    assert len(queries) >= 30, len(queries)
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "dashboard-queries.yml")
        with open(rules, "w") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, (title, e) in enumerate(queries):
                f.write("      # %s\n      - record: dashboard_query_%d\n        expr: %s\n" % (
                    title, i, json.dumps(grafana_to_promql(e))))
        out = run("check", "rules", rules)
        assert "SUCCESS: %d rules found" % len(queries) in out, out


def main():
    mode = sys.argv[1]
    if mode == "alerts":
        check_alerts(sys.argv[2], sys.argv[3])
    elif mode == "dashboard":
        check_dashboard(sys.argv[2])
    else:
        sys.exit("unknown mode %r" % mode)
    print("ok")


if __name__ == "__main__":
    main()
