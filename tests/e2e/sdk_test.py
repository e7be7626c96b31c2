# SPDX-License-Identifier: Apache-2.0
"""The official SDKs against tollgate, in front of the real tollgate-sink, on 127.0.0.1.

JavaScript: the pinned @openmeter/sdk and cloudevents packages, installed from npm
into the build's npm/ folder the first time (no network afterwards; when npm cannot
reach the registry this test exits 77 saying so), drive ingest (every id once, byte
for byte), calls the pass-through takes to the upstream, the event list, and errors.
Python and Go: their rules (only 204 is success on v1; the content types and paths
the Go client sends; no JSON Content-Type on a 2xx without a body) with stdlib clients."""
import http.client
import json
import os
import shutil
import subprocess

from harness import (DATA, HERE, Gateway, Skip, run_tests, split_json_array, wait_for)
from upstreams import Sink

SDK_VERSION = "1.0.0-beta.232"  # no stable release exists: every published version is a 1.0.0 beta
CLOUDEVENTS_VERSION = "10.0.0"
NPM_DIR = os.environ.get("TOLLGATE_NPM_DIR", os.path.join(os.path.dirname(HERE), "..", "build", "npm"))
SCRIPTS = os.path.join(HERE, "sdk")
NPM_TIMEOUT = 240
NODE_TIMEOUT = 120
CLIENT_KEY = "client-key-7"       # what the application gives its SDK
UPSTREAM_TOKEN = "upstream-secret"  # what tollgate sends with its own batches


def installed_version(name):
    try:
        with open(os.path.join(NPM_DIR, "node_modules", name, "package.json")) as f:
            return json.load(f).get("version")
    except (OSError, ValueError):
        return None


def ensure_packages():
    """The pinned packages in NPM_DIR; npm runs only when they are missing."""
    if shutil.which("node") is None:
        raise Skip("node is not installed (scripts/deps.sh installs nodejs and npm for the tests)")
    want = {"@openmeter/sdk": SDK_VERSION, "cloudevents": CLOUDEVENTS_VERSION}
    if any(installed_version(n) != v for n, v in want.items()):
        if shutil.which("npm") is None:
            raise Skip("npm is not installed and %s has no node_modules" % NPM_DIR)
        os.makedirs(NPM_DIR, exist_ok=True)
        with open(os.path.join(NPM_DIR, "package.json"), "w") as f:
            json.dump({"name": "tollgate-sdk-tests", "private": True, "type": "module"}, f)
        try:
            r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--save-exact",
                                "--loglevel", "error"] + ["%s@%s" % kv for kv in want.items()],
                               cwd=NPM_DIR, capture_output=True, text=True, timeout=NPM_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Skip("npm install did not finish in %ds (is the registry reachable?)" % NPM_TIMEOUT)
        if r.returncode != 0 or any(installed_version(n) != v for n, v in want.items()):
            said = [l for l in (r.stderr or r.stdout).splitlines() if l.startswith("npm error")][:3]
            raise Skip("npm could not install the pinned SDKs (is the registry reachable?): " + " | ".join(said))
    # Bare imports resolve from the importing file's folder: the scripts run from NPM_DIR.
    for name in os.listdir(SCRIPTS):
        if name.endswith(".mjs"):
            shutil.copyfile(os.path.join(SCRIPTS, name), os.path.join(NPM_DIR, name))


def node(script, base, **env):
    ensure_packages()
    full = dict(os.environ, TG_BASE=base, TG_API_KEY=CLIENT_KEY, **{k: str(v) for k, v in env.items()})
    r = subprocess.run(["node", os.path.join(NPM_DIR, script)], cwd=NPM_DIR, env=full, capture_output=True,
                       text=True, timeout=NODE_TIMEOUT)
    assert r.returncode == 0, "node %s failed (%d):\n%s\n%s" % (script, r.returncode, r.stdout[-2000:], r.stderr[-3000:])
    return json.loads(r.stdout.strip().split("\n")[-1])  # not splitlines(): U+2028 is in the data


def setup(sink):
    return Gateway("--linger-ms", "2", "--upstream-token", UPSTREAM_TOKEN, "--drain-timeout-ms", "5000",
                   output=sink.url)


def base_of(g):
    return "http://127.0.0.1:%d" % g.port


def received_lines(sink):
    if not os.path.exists(sink.record):
        return []
    with open(sink.record, "rb") as f:
        return [line.rstrip(b"\n") for line in f if line.strip()]


def api_calls(sink):
    r = sink.request("GET", "/api-calls")
    assert r.status == 200, r
    return r.json()


# --- Python and Go: their rules with stdlib clients --------------------------------------------

def post(port, path, body, ctype):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", path, body=body, headers={"Content-Type": ctype, "Authorization": "Bearer " + CLIENT_KEY})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def test_python_sdk_rule_only_204_is_success_on_v1():
    with open(os.path.join(DATA, "event.json"), "rb") as f:
        single = f.read().strip()
    with open(os.path.join(DATA, "batch.json"), "rb") as f:
        many = f.read().strip()
    with Sink() as sink:
        with setup(sink) as g:
            # ingest_event, ingest_events, ingest_events_json (object and array).
            for body, ctype in ((single, "application/cloudevents+json"), (many, "application/cloudevents-batch+json"),
                                (single.replace(b'"6b7b', b'"py-1'), "application/json"),
                                (many.replace(b'"86ab', b'"py-2'), "application/json")):
                status, headers, data = post(g.port, "/api/v1/events", body, ctype)
                assert status == 204, (status, ctype)  # `status_code not in [204]` raises in the Python SDK
                assert "content-type" not in headers and data == b"", headers
            g.stop()


def test_go_sdk_content_types_and_paths():
    go_event = (b'{"specversion":"1.0","id":"go-%d","source":"my-app","type":"ingest","subject":"customer-1",'
                b'"datacontenttype":"application/json","time":"2024-01-01T10:11:12.123456789Z","data":{"duration_ms":"7"}}')
    with Sink() as sink:
        with setup(sink) as g:
            sent = []
            # v1 IngestEvent, IngestEventBatch, IngestEvents; v3 IngestEvent, IngestEvents, IngestEventsJSON.
            cases = (("/api/v1/events", "application/cloudevents+json", False, 204),
                     ("/api/v1/events", "application/cloudevents-batch+json", True, 204),
                     ("/api/v1/events", "application/json", True, 204),
                     ("/api/v3/openmeter/events", "application/cloudevents+json", False, 202),
                     ("/api/v3/openmeter/events", "application/cloudevents-batch+json", True, 202),
                     ("/api/v3/openmeter/events", "application/json", False, 202))
            for i, (path, ctype, array, want) in enumerate(cases):
                evs = [go_event % (10 * i + k) for k in range(2 if array else 1)]
                body = b"[" + b",".join(evs) + b"]" if array else evs[0]
                status, headers, data = post(g.port, path, body, ctype)
                assert status == want, (path, ctype, status, data)
                # ClientWithResponses decodes any body whose Content-Type names json: none on success.
                assert "json" not in headers.get("content-type", "") and data == b"", headers
                sent += evs
            wait_for(lambda: len(received_lines(sink)) >= len(sent), what="the Go-shaped events at the sink")
            g.stop()
        assert sorted(received_lines(sink)) == sorted(sent)


# --- JavaScript: @openmeter/sdk and cloudevents --------------------------------------------------

def test_js_sdk_ingest_arrives_once_byte_for_byte():
    with Sink("--token", UPSTREAM_TOKEN) as sink:
        with setup(sink) as g:
            out = node("ingest.mjs", base_of(g), TG_ROUNDS=5)
            sent = out["sent"]
            assert len(sent) == out["result"]["calls"] == 20, out["result"]
            for s in sent:
                assert s["method"] == "POST" and s["url"] == base_of(g) + "/api/v1/events", s
                assert s["contentType"] == "application/cloudevents-batch+json", s
            events = [e for s in sent for e in split_json_array(s["body"].encode())]
            assert len(events) == 5 * (1 + 1 + 40 + 50)
            ids = [json.loads(e)["id"] for e in events]
            assert len(set(ids)) == len(ids), "the SDK sent an id twice"
            filled = [json.loads(e) for e in events if json.loads(e)["type"] == "api-calls" and "n" in json.loads(e)["data"]]
            assert all(e["source"] == "@openmeter/sdk" and e["specversion"] == "1.0" and e["time"].endswith("Z")
                       for e in filled), filled[:2]
            wait_for(lambda: len(received_lines(sink)) >= len(events), what="every event at the sink")
            g.stop()
        got = received_lines(sink)
        assert sorted(got) == sorted(events), "the sink did not get the SDK's events byte for byte"
        assert api_calls(sink) == [], "ingest must never go through the pass-through"


def test_js_sdk_calls_pass_through_with_the_clients_key():
    with Sink("--token", UPSTREAM_TOKEN) as sink:
        with setup(sink) as g:
            out = node("api.mjs", base_of(g))
            res = out["result"]
            assert len(res["meters"]) == 8 and res["meters"][0]["slug"] == "meter_0", res["meters"][:1]
            assert res["query"]["windowSize"] == "HOUR" and res["query"]["data"][0]["value"] == 42, res["query"]
            assert res["queryPost"] == res["query"], res["queryPost"]
            assert res["customer"] == {"method": "GET", "path": "/api/v1/customers/c-1"}, res["customer"]
            assert res["portal"]["token"] == "om_portal_canned", res["portal"]
            assert res["events"][0]["event"]["id"] == "listed-1", res["events"]
            # The upstream's own problem reaches the application unchanged.
            ue = res["upstreamError"]
            assert ue and ue["name"] == "HTTPError" and ue["status"] == 404, ue
            assert ue["detail"] == "meter not found: missing" and "meter not found: missing" in ue["message"], ue
            # tollgate's own refusal surfaces its problem detail through the SDK.
            te = res["tollgateError"]
            assert te and te["status"] == 400 and te["title"] == "Bad Request", te
            assert "subject is missing" in te["detail"] and "subject is missing" in te["message"], te
            calls = api_calls(sink)
            seen = [(c["method"], c["target"].split("?")[0]) for c in calls]
            assert seen == [("GET", "/api/v1/meters"), ("GET", "/api/v1/meters/tokens/query"),
                            ("POST", "/api/v1/meters/tokens/query"), ("GET", "/api/v1/customers/c-1"),
                            ("POST", "/api/v1/portal/tokens"), ("GET", "/api/v1/events"),
                            ("GET", "/api/v1/meters/missing")], seen
            assert all(c["authorization"] == "Bearer " + CLIENT_KEY for c in calls), [c["authorization"] for c in calls]
            q = calls[1]["target"]
            assert "windowSize=HOUR" in q and "subject=customer-1" in q and "from=2024-01-01T00%3A00%3A00.000Z" in q, q
            sent_bodies = {(s["method"], s["url"].split("?")[0].replace(base_of(g), "")): s["body"] for s in out["sent"]}
            assert calls[2]["body"] == sent_bodies[("POST", "/api/v1/meters/tokens/query")], calls[2]
            assert json.loads(calls[4]["body"]) == {"subject": "customer-1"}, calls[4]
            assert calls[5]["target"] == "/api/v1/events?limit=5", calls[5]
            g.stop()
        assert sink.stats()["unauthorized"] == 0


def test_cloudevents_sdk_structured_mode():
    with Sink() as sink:
        with setup(sink) as g:
            out = node("cloudevents.mjs", base_of(g))["result"]
            for a in out["answers"]:
                # What the Python SDK needs too: exactly 204, no body, no Content-Type.
                assert a["status"] == 204 and a["contentType"] is None and a["body"] == "", a
            for s in out["sent"]:
                assert s["contentType"] == "application/cloudevents+json; charset=utf-8", s
            wait_for(lambda: len(received_lines(sink)) >= 3, what="the three events at the sink")
            g.stop()
        assert sorted(received_lines(sink)) == sorted(s["body"].encode() for s in out["sent"])


run_tests(globals())
