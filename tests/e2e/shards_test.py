# SPDX-License-Identifier: Apache-2.0
"""--shards 1 and 2 under concurrent clients: every accepted event appears exactly
once in the output, /metrics agrees with the count, and the per-shard
connections_open gauges track the connections really open."""
import collections
import json

from harness import (BATCH, CE, Gateway, batch, event, http_request, metric, run_threads, run_tests, wait_for)

V1 = "/api/v1/events"
THREADS = 8
REQUESTS = 20      # per thread
PER_BATCH = 4


def client(g, t, accepted):
    """Half the requests on one keep-alive connection, half on new connections."""
    with g.connect() as keep:
        for i in range(REQUESTS):
            ids = ["s-%d-%d-%d" % (t, i, k) for k in range(PER_BATCH)]
            body = batch([event(x) for x in ids])
            wire = http_request("POST", V1, body, {"Content-Type": BATCH})
            if i % 2 == 0:
                keep.send(wire)
                r = keep.response()
            else:
                with g.connect() as c:
                    c.send(wire)
                    r = c.response()
            assert r.status == 204, r
            accepted.extend(ids)


def open_gauges(g):
    m = g.metrics()
    return {dict(k[1])["shard"]: v for k, v in m.items() if k[0] == "tollgate_connections_open"}


def run_with_shards(n):
    accepted = []
    with Gateway("--shards", str(n)) as g:
        assert g.listening.get("shards") == n, g.listening
        run_threads(lambda t: client(g, t, accepted), [(t,) for t in range(THREADS)])
        assert len(accepted) == THREADS * REQUESTS * PER_BATCH

        m = g.metrics()
        assert metric(m, "tollgate_events_accepted_total") == len(accepted), m
        assert metric(m, "tollgate_http_requests_total", endpoint=V1, status="204") == THREADS * REQUESTS

        # Gauges: one label per shard; the sum counts the open connections
        # (the scrape's own connection included).
        gauges = open_gauges(g)
        assert sorted(gauges) == [str(i) for i in range(n)], gauges
        wait_for(lambda: sum(open_gauges(g).values()) == 1, what="connections_open back to 1")
        held = [g.connect() for _ in range(12)]
        try:
            for c in held:  # a request on each proves the server has accepted it
                c.send(http_request("GET", "/healthz"))
                assert c.response().status == 200
            gauges = open_gauges(g)
            assert sum(gauges.values()) == 13, gauges
            if n == 2:
                # SO_REUSEPORT spreads 13 connections over both shards (all on one: p = 2^-12).
                assert all(v >= 1 for v in gauges.values()), gauges
        finally:
            for c in held:
                c.close()
        wait_for(lambda: sum(open_gauges(g).values()) == 1, what="connections_open back to 1 after closing")
        g.stop()
        out = g.output()
    ids = [json.loads(line)["id"] for line in out]
    counts = collections.Counter(ids)
    dup = [i for i, c in counts.items() if c > 1]
    assert not dup, "duplicated in the output: %r" % dup[:10]
    assert sorted(ids) == sorted(accepted), "output differs from the accepted events"
    # Each line is exactly the event as sent (no time stamping needed: E has a time).
    want = {x: event(x) for x in accepted}
    assert all(line == want[json.loads(line)["id"]] for line in out)
    # A shard's ring is FIFO: with one shard each client's events come out in
    # the order it sent them; with any count, a batch keeps its order.
    pos = {x: i for i, x in enumerate(ids)}
    for t in range(THREADS):
        mine = [x for x in accepted if x.startswith("s-%d-" % t)]
        if n == 1:
            assert [pos[x] for x in mine] == sorted(pos[x] for x in mine), "client %d reordered" % t
        for i in range(0, len(mine), PER_BATCH):
            b = [pos[x] for x in mine[i:i + PER_BATCH]]
            assert b == sorted(b), "a batch was reordered"

def test_one_shard():
    run_with_shards(1)


def test_two_shards():
    run_with_shards(2)


if __name__ == "__main__":
    run_tests(globals())
