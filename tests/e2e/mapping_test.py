# SPDX-License-Identifier: Apache-2.0
"""Any payload in: --mappings routes turn JSON into CloudEvents, and the
CloudEvents HTTP binary mode (ce-* headers) works on the ingest paths, with
the real binary. What reaches the output is checked event by event."""
import json
import os
import signal
import subprocess
import tempfile

from harness import (Gateway, assert_problem, http_request, run_tests, wait_for)

ROUTES = {"routes": [
    {"path": "/ingest/llm-usage", "each": "{/requests}",
     "event": {"id": "{/request_id}", "type": "llm-tokens", "source": "gateway-{/region}",
               "subject": "{/user}", "time": "{/created}", "time_format": "unix_s",
               "data": {"model": "{/model}", "prompt_tokens": "{/usage/prompt_tokens}"}}},
    {"path": "/ingest/webhook",
     "event": {"id": "{#hash}", "type": "webhook.{/kind}", "source": "hooks", "subject": "{/account}", "data": "{}"}},
]}

LLM = {"region": "eu", "requests": [
    {"request_id": "r-1", "user": "u-7", "created": 1700000000, "model": "m-large", "usage": {"prompt_tokens": 42}},
    {"request_id": "r-2", "user": "u-8", "created": 1700000001.5, "model": "m-small", "usage": {"prompt_tokens": 7}},
]}
for r in LLM["requests"]:
    r["region"] = "eu"  # pointers resolve inside each element


def write_routes(d, routes):
    path = os.path.join(d, "routes.json")
    with open(path, "w") as f:
        f.write(routes if isinstance(routes, str) else json.dumps(routes))
    return path


def events(g, n):
    return [json.loads(l) for l in g.wait_output(n)]


def test_the_llm_route_maps_each_element_to_one_event_with_its_types():
    with tempfile.TemporaryDirectory() as d, Gateway("--mappings", write_routes(d, ROUTES)) as g:
        r = g.post(json.dumps(LLM).encode(), ctype="application/json", path="/ingest/llm-usage")
        assert r.status == 204, r
        got = sorted(events(g, 2), key=lambda e: e["id"])
        assert [e["id"] for e in got] == ["r-1", "r-2"]
        assert got[0]["source"] == "gateway-eu" and got[0]["subject"] == "u-7" and got[0]["type"] == "llm-tokens"
        assert got[0]["specversion"] == "1.0"
        assert got[0]["time"].startswith("2023-11-14T22:13:20"), got[0]
        assert got[1]["time"].startswith("2023-11-14T22:13:21.5"), got[1]
        assert got[0]["data"] == {"model": "m-large", "prompt_tokens": 42}  # the number stays a number
        # A required attribute that points at nothing: 400 naming route, element and pointer; nothing accepted.
        bad = {"requests": [{"request_id": "r-3", "created": 1, "region": "eu"}]}
        r = g.post(json.dumps(bad).encode(), ctype="application/json", path="/ingest/llm-usage")
        assert_problem(r, 400, "/ingest/llm-usage", "/user")
        # Other methods 405, other paths 404, other content types 400.
        r = g.request("GET", "/ingest/llm-usage")
        assert r.status == 405 and r.header("Allow") == "POST", r
        assert g.post(b"{}", ctype="application/json", path="/ingest/nope").status == 404
        assert g.post(json.dumps(LLM).encode(), ctype="text/plain", path="/ingest/llm-usage").status == 400
        g.stop()
        assert len(g.output()) == 2


def test_the_webhook_route_hashes_the_payload_so_a_retry_gets_the_same_id():
    body = json.dumps({"kind": "invoice.paid", "account": "acct-1", "amount": 12.5}).encode()
    with tempfile.TemporaryDirectory() as d, Gateway("--mappings", write_routes(d, ROUTES)) as g:
        assert g.post(body, ctype="application/json", path="/ingest/webhook").status == 204
        assert g.post(body, ctype="application/json", path="/ingest/webhook").status == 204
        a, b = events(g, 2)
        assert a["id"] == b["id"] and len(a["id"]) == 32, (a, b)
        assert a["type"] == "webhook.invoice.paid" and a["subject"] == "acct-1"
        assert a["data"] == json.loads(body)


def test_binary_mode_headers_become_one_structured_event():
    with Gateway() as g:
        headers = {"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "bin-1",
                   "ce-source": "svc", "ce-type": "api-calls", "ce-subject": "customer%2F1",
                   "ce-time": "2023-01-01T00:00:00Z", "ce-region": "eu%20west"}
        with g.connect() as c:
            c.send(http_request("POST", "/api/v1/events", b'{"duration_ms": 12}', headers))
            assert c.response().status == 204
            del headers["ce-id"]
            c.send(http_request("POST", "/api/v1/events", b'{"duration_ms": 12}', headers))
            assert_problem(c.response(), 400, "ce-id is missing")
        (e,) = events(g, 1)
        assert e["id"] == "bin-1" and e["subject"] == "customer/1" and e["region"] == "eu west", e
        assert e["data"] == {"duration_ms": 12}


def test_a_bad_routes_file_fails_the_start_and_on_sighup_keeps_the_routes_in_use():
    with tempfile.TemporaryDirectory() as d:
        bad = write_routes(d, {"routes": [{"path": "/x", "event": {"id": "{/a", "type": "t", "source": "s",
                                                                    "subject": "u"}}]})
        p = subprocess.run([os.environ["TOLLGATE_BIN"], "--listen", "127.0.0.1:0", "--mappings", bad],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert "route /x" in p.stderr and "event.id" in p.stderr, p.stderr
        path = write_routes(d, ROUTES)
        with Gateway("--mappings", path) as g:
            write_routes(d, "{not json")
            g.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload of --mappings failed" in g.stderr(), what="the failed reload logged")
            assert g.post(json.dumps(LLM).encode(), ctype="application/json", path="/ingest/llm-usage").status == 204
            routes = json.loads(json.dumps(ROUTES))
            routes["routes"][1]["path"] = "/ingest/hooks-v2"
            write_routes(d, routes)
            g.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloaded --mappings" in g.stderr(), what="the reload logged")
            body = json.dumps({"kind": "k", "account": "a"}).encode()
            wait_for(lambda: g.post(body, ctype="application/json", path="/ingest/hooks-v2").status == 204,
                     what="the new route served")
            assert g.post(body, ctype="application/json", path="/ingest/webhook").status == 404


if __name__ == "__main__":
    run_tests(globals())
