# SPDX-License-Identifier: Apache-2.0
"""Forwarding end to end: the real tollgate in front of the real tollgate-sink
(and of an HTTPS server for TLS), on 127.0.0.1. Every test compares the ids the
clients got 204 for with the ids the upstream received."""
import json
import os
import signal
import subprocess
import tempfile
import time

from harness import (BATCH, CE, Gateway, assert_problem, batch, event, http_request, metric, metric_sum, run_tests,
                     run_threads, wait_for)
from upstreams import CloseDelimitedTlsUpstream, EarlyAnswerUpstream, HttpsUpstream, Sink, make_pki

# Short timings so retries happen within a test's budget.
FAST = ["--linger-ms", "2", "--retry-initial-ms", "20", "--retry-max-ms", "200", "--drain-timeout-ms", "5000"]


def forwarding(sink_url, tmp, *flags):
    return Gateway("--dead-letter", os.path.join(tmp, "dead.jsonl"), *FAST, *flags, output=sink_url)


def ids_of(count, prefix):
    return ["%s-%d" % (prefix, i) for i in range(count)]


def post_all(g, ids, per_request=20, ctype=BATCH):
    """Posts ids in batches; returns the ids that got 204."""
    ok = []
    for i in range(0, len(ids), per_request):
        chunk = ids[i:i + per_request]
        r = g.post(batch([event(x) for x in chunk]), ctype)
        assert r.status == 204, r
        ok += chunk
    return ok


def assert_delivered_once(sink, expected):
    got = sink.received_ids()
    dup = len(got) - len(set(got))
    assert set(got) == set(expected), "missing %d, unexpected %d" % (
        len(set(expected) - set(got)), len(set(got) - set(expected)))
    assert dup == 0, "%d duplicates at the sink" % dup


def test_every_accepted_id_arrives_exactly_once_under_load():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        with forwarding(sink.url, tmp, "--shards", "2") as g:
            accepted = {}

            def client(t):
                accepted[t] = post_all(g, ids_of(400, "load%d" % t), per_request=20)
            run_threads(client, [(t,) for t in range(6)])
            expected = [x for ids in accepted.values() for x in ids]
            wait_for(lambda: sink.stats()["events"] >= len(expected), what="every event at the sink")
            m = g.metrics()
            assert metric_sum(m, "tollgate_upstream_events_delivered_total") == len(expected)
            assert metric_sum(m, "tollgate_dead_lettered_events_total") == 0
            g.stop()
        assert_delivered_once(sink, expected)


def test_runs_of_503_and_429_with_retry_after_lose_nothing():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        with forwarding(sink.url, tmp) as g:
            sink.faults(fail_status=503, fail_count=5)
            first = post_all(g, ids_of(200, "s503"))
            wait_for(lambda: sink.stats()["events"] >= 200, what="events after five 503s")
            m = g.metrics()
            assert metric(m, "tollgate_upstream_requests_total", status="503") == 5
            assert metric_sum(m, "tollgate_upstream_retries_total") >= 5

            # Retry-After is a lower bound on the wait: after a 429 asking for
            # 1 s, the events cannot arrive in under 1 s (batches in flight at
            # the same time wait out the same second, so two 429s need not
            # mean two seconds).
            sink.faults(fail_status=429, fail_count=2, retry_after="1")
            t0 = time.monotonic()
            second = post_all(g, ids_of(100, "s429"))
            wait_for(lambda: sink.stats()["events"] >= 300, timeout=20, what="events after two 429s")
            assert time.monotonic() - t0 >= 0.95, "Retry-After was not honoured"
            assert metric(g.metrics(), "tollgate_upstream_requests_total", status="429") == 2
            g.stop()
        assert_delivered_once(sink, first + second)


def test_dropped_upstream_connections_lose_nothing():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        with forwarding(sink.url, tmp) as g:
            sink.faults(drop_count=4)
            ids = post_all(g, ids_of(300, "drop"))
            wait_for(lambda: sink.stats()["events"] >= 300, what="events after dropped connections")
            m = g.metrics()
            assert metric_sum(m, "tollgate_upstream_requests_total") >= 4
            g.stop()
        assert_delivered_once(sink, ids)


def test_three_poison_events_are_dead_lettered_and_the_rest_delivered():
    with Sink("--reject-id-prefix", "poison-") as sink, tempfile.TemporaryDirectory() as tmp:
        with forwarding(sink.url, tmp, "--batch-max-events", "200", "--linger-ms", "20") as g:
            ids = ids_of(3000, "good")
            for n, at in enumerate((17, 1500, 2999)):
                ids[at] = "poison-%d" % n
            accepted = post_all(g, ids, per_request=100)
            good = [x for x in accepted if not x.startswith("poison-")]
            wait_for(lambda: sink.stats()["events"] >= len(good), what="all good events")
            wait_for(lambda: metric_sum(g.metrics(), "tollgate_dead_lettered_events_total") == 3,
                     what="three dead-lettered events")
            m = g.metrics()
            assert metric_sum(m, "tollgate_upstream_splits_total") > 0
            g.stop()
            with open(os.path.join(tmp, "dead.jsonl")) as f:
                import json
                dead = [json.loads(line) for line in f]
        assert sorted(d["event"]["id"] for d in dead) == ["poison-0", "poison-1", "poison-2"]
        assert all(d["status"] == 400 and d["detail"] and d["time"] for d in dead), dead
        assert_delivered_once(sink, good)


def test_wrong_token_keeps_events_until_the_upstream_accepts_it():
    # When the upstream rejects tollgate's token, events stay buffered (401 is
    # a configuration error, not the events' fault) and go through as soon as
    # the token is fixed (here in --upstream-token-file, re-read on SIGHUP), so
    # nothing buffered is lost. The sink stays up on its own port throughout:
    # restarting it on a port it gave up could join another server's
    # SO_REUSEPORT group that took the port meanwhile.
    with Sink("--token", "right") as sink, tempfile.TemporaryDirectory() as tmp:
        token = os.path.join(tmp, "token")
        with open(token, "w") as f:
            f.write("wrong\n")
        with forwarding(sink.url, tmp, "--upstream-token-file", token) as g:
            ids = post_all(g, ids_of(50, "tok"))
            wait_for(lambda: metric(g.metrics(), "tollgate_upstream_requests_total", status="401") >= 2,
                     what="401s from the sink")
            assert sink.stats()["events"] == 0
            assert metric_sum(g.metrics(), "tollgate_events_waiting") == 50
            assert "rejected the token" in g.stderr()
            assert "wrong" not in g.stderr(), "the token must never be logged"
            with open(token + ".new", "w") as f:
                f.write("right\n")
            os.replace(token + ".new", token)
            g.send_signal(signal.SIGHUP)
            wait_for(lambda: sink.stats()["events"] >= 50, timeout=15, what="events once the token is accepted")
            g.stop()
        assert_delivered_once(sink, ids)


def test_slow_upstream_pushes_back_to_clients_and_loses_nothing():
    with Sink("--latency-ms", "150") as sink, tempfile.TemporaryDirectory() as tmp:
        flags = ["--max-body-bytes", "65536", "--buffer-bytes", "196608", "--max-in-flight", "1",
                 "--batch-max-events", "40", "--admit-timeout-ms", "200"]
        with forwarding(sink.url, tmp, *flags) as g:
            accepted, refused = [], []
            deadline = time.monotonic() + 4
            n = 0
            while time.monotonic() < deadline and not refused:
                chunk = ids_of(100, "slow%d" % n)
                n += 1
                r = g.post(batch([event(x) for x in chunk]), BATCH)
                assert r.status in (204, 503), r
                (accepted if r.status == 204 else refused).extend(chunk)
                if r.status == 503:
                    assert r.header("Retry-After"), r
            assert refused, "a slow upstream never pushed back"
            m = g.metrics()
            assert metric_sum(m, "tollgate_backpressure_pauses_total") > 0
            used = [v for (name, _), v in m.items() if name == "tollgate_ring_used_bytes"]
            assert used and max(used) <= 196608, used  # memory stays within --buffer-bytes per shard
            sink.faults(latency_ms=0)
            wait_for(lambda: sink.stats()["events"] >= len(accepted), timeout=20, what="backlog delivered")
            g.stop()
        got = set(sink.received_ids())
        assert got == set(accepted), "delivered set differs from the accepted set"
        assert not got & set(refused)


def test_ack_upstream_answers_only_after_delivery():
    with Sink("--latency-ms", "300") as sink, tempfile.TemporaryDirectory() as tmp:
        with forwarding(sink.url, tmp, "--ack", "upstream", "--ack-timeout-ms", "1500") as g:
            t0 = time.monotonic()
            r = g.post(event("ack-1"), CE)
            elapsed = time.monotonic() - t0
            assert r.status == 204, r
            assert elapsed >= 0.3, "answered before the upstream could have accepted (%.3fs)" % elapsed
            assert sink.stats()["events"] == 1, "204 came before the sink had the event"

            sink.faults(latency_ms=0, fail_status=503, fail_ratio=1.0)
            t0 = time.monotonic()
            r = g.post(event("ack-2"), CE)
            assert r.status == 504, r
            assert time.monotonic() - t0 >= 1.4
            assert metric_sum(g.metrics(), "tollgate_ack_timeouts_total") == 1
            sink.faults(fail_ratio=0.0, fail_count=0)
            wait_for(lambda: sink.stats()["events"] >= 2, what="the timed-out event still delivered")
            g.stop()
        assert_delivered_once(sink, ["ack-1", "ack-2"])


def test_https_upstream_with_a_private_ca():
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_pki(tmp)
        up = HttpsUpstream(cert, key)
        try:
            url = "https://localhost:%d" % up.port
            with forwarding(url, tmp, "--upstream-ca-file", ca, "--upstream-token", "tls-token") as g:
                ids = post_all(g, ids_of(60, "tls"))
                wait_for(lambda: len(up.received()) >= 60, what="events over TLS")
                g.stop()
            assert sorted(up.received()) == sorted(ids)
            assert set(up.auth) == {"Bearer tls-token"}
        finally:
            up.close()


def check_refused_tls(url, tmp, *flags):
    with forwarding(url, tmp, "--drain-timeout-ms", "500", *flags) as g:
        post_all(g, ids_of(10, "refused"))
        wait_for(lambda: metric_sum(g.metrics(), "tollgate_upstream_connect_failures_total") >= 1,
                 what="a refused TLS handshake")
        m = g.metrics()
        assert metric_sum(m, "tollgate_upstream_events_delivered_total") == 0
        assert metric_sum(m, "tollgate_events_waiting") == 10, "events must be kept"
        assert "certificate verify failed" in g.stderr(), g.stderr()
        g.stop(expect_rc=1)  # the drain deadline passes with events undelivered
        assert "events left" in g.stderr() or '"events_left":10' in g.stderr()


def test_https_upstream_with_the_wrong_host_name_is_refused_and_events_kept():
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_pki(tmp, names=("DNS:localhost",))
        up = HttpsUpstream(cert, key)
        try:
            check_refused_tls("https://127.0.0.1:%d" % up.port, tmp, "--upstream-ca-file", ca)
            assert up.received() == []
        finally:
            up.close()


def test_https_upstream_with_an_untrusted_certificate_is_refused_and_events_kept():
    with tempfile.TemporaryDirectory() as tmp:
        _, cert, key = make_pki(tmp)
        up = HttpsUpstream(cert, key)
        try:
            check_refused_tls("https://localhost:%d" % up.port, tmp)
            assert up.received() == []
        finally:
            up.close()


def test_tollgate_load_through_tollgate_to_the_sink_agrees_on_the_count():
    # The benchmark chain: what tollgate-load reports as accepted is exactly the
    # set of distinct events the sink received through tollgate.
    load_bin = os.environ.get("TOLLGATE_LOAD_BIN", "")
    assert os.access(load_bin, os.X_OK), "TOLLGATE_LOAD_BIN not set: %r" % load_bin
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        with forwarding(sink.url, tmp, "--shards", "2") as g:
            r = subprocess.run([load_bin, "--target", "http://127.0.0.1:%d/api/v1/events" % g.port, "--json",
                                "--connections", "16", "--requests", "4000", "--events-per-request", "10"],
                               capture_output=True, timeout=120)
            assert r.returncode == 0, r.stderr
            rep = json.loads(r.stdout)
            assert rep["accepted_events"] == 40000 and rep["errors"]["total"] == 0, rep
            wait_for(lambda: sink.stats()["events"] >= rep["accepted_events"], timeout=30,
                     what="every accepted event at the sink")
            g.stop()
        st = sink.stats()
        assert st["distinct"] == rep["accepted_events"], (st, rep["accepted_events"])
        assert st["duplicates"] == 0, st


def test_ack_upstream_answers_502_naming_the_upstreams_answer_when_it_refused_an_event():
    # Issue 16: a dead-lettered event was answered 204, "delivered".
    check_ack_upstream_poison()


def test_ack_upstream_with_a_spool_answers_502_when_the_upstream_refused_an_event():
    check_ack_upstream_poison("--spool-dir", "spool")


def test_ack_upstream_with_a_spool_answers_502_for_a_refused_event_that_went_to_disk_only():
    """A slow upstream and a small ring: the ring fills, so later requests'
    events go to the spool only and reach the upstream from disk. Every
    request holds one event the upstream refuses, so every one must get 502,
    those served from disk too."""
    with Sink("--reject-id-prefix", "poison-", "--latency-ms", "300") as sink, tempfile.TemporaryDirectory() as tmp:
        with forwarding(sink.url, tmp, "--ack", "upstream", "--ack-timeout-ms", "20000", "--buffer-bytes", "256KiB",
                        "--max-body-bytes", "128KiB", "--shards", "1", "--spool-dir", os.path.join(tmp, "spool")) as g:
            conns = [g.connect() for _ in range(6)]
            sent = []
            for n, c in enumerate(conns):
                ids = ["r%d-%03d" % (n, i) for i in range(500)]
                ids[250] = "poison-%d" % n
                sent += [i for i in ids if not i.startswith("poison-")]
                c.send(http_request("POST", "/api/v1/events", batch([event(i) for i in ids]), {"Content-Type": BATCH}))
            for c in conns:
                assert_problem(c.response(timeout=30), 502, "refused 1 event", "400", "dead-letter")
                c.close()
            m = g.metrics()
            assert metric_sum(m, "tollgate_spool_disk_reads_events_total") > 0, m  # some came back from disk
            g.stop()
        assert_delivered_once(sink, sent)


def check_ack_upstream_poison(*flags):
    with Sink("--reject-id-prefix", "poison-") as sink, tempfile.TemporaryDirectory() as tmp:
        flags = [os.path.join(tmp, f) if f == "spool" else f for f in flags]
        with forwarding(sink.url, tmp, "--ack", "upstream", "--ack-timeout-ms", "10000", *flags) as g:
            with g.connect() as c:
                c.send(http_request("POST", "/api/v1/events", event("fine-1"), {"Content-Type": CE}))
                r = c.response()
                assert r.status == 204, r
                body = batch([event("ok-a"), event("poison-1"), event("ok-b")])
                c.send(http_request("POST", "/api/v1/events", body, {"Content-Type": BATCH}))
                r = c.response()
                assert_problem(r, 502, "refused 1 event", "400", "poison-1", "dead-letter")
                assert r.header("Retry-After") is None, r  # the same event would be refused again
                # The connection goes on, and the next request is answered as before.
                c.send(http_request("POST", "/api/v1/events", event("fine-2"), {"Content-Type": CE}))
                r = c.response()
                assert r.status == 204, r
            m = g.metrics()
            assert metric(m, "tollgate_http_requests_total", endpoint="/api/v1/events", status="502") == 1, m
            assert metric(m, "tollgate_http_requests_total", endpoint="/api/v1/events", status="204") == 2, m
            assert metric_sum(m, "tollgate_dead_lettered_events_total") == 1
            g.stop()
            with open(os.path.join(tmp, "dead.jsonl")) as f:
                dead = [json.loads(line)["event"]["id"] for line in f]
        assert dead == ["poison-1"], dead
        assert_delivered_once(sink, ["fine-1", "ok-a", "ok-b", "fine-2"])


def test_tls_response_cut_by_a_tcp_close_without_close_notify_is_not_delivered():
    # Issue 16: a close-delimited response over TLS was finished without
    # asking TLS whether the stream really ended, so a truncation was taken
    # for a complete answer.
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_pki(tmp)
        up = CloseDelimitedTlsUpstream(cert, key)
        try:
            url = "https://localhost:%d" % up.port
            with forwarding(url, tmp, "--upstream-ca-file", ca) as g:
                ids = post_all(g, ids_of(5, "cut"), per_request=5)
                wait_for(lambda: up.stats()[0] >= 3, what="tollgate retrying the truncated answers")
                m = g.metrics()
                assert metric_sum(m, "tollgate_upstream_events_delivered_total") == 0, "a truncated answer counted"
                assert metric_sum(m, "tollgate_events_waiting") == 5, "events must be kept"
                assert "without close_notify" in g.stderr(), g.stderr()
                # The same answer ended by close_notify is a complete response.
                up.clean = True
                wait_for(lambda: metric_sum(g.metrics(), "tollgate_upstream_events_delivered_total") == 5,
                         what="delivery once the upstream closes cleanly")
                g.stop()
            assert set(up.stats()[1]) == set(ids)
        finally:
            up.close()


def check_answer_before_the_body(tls):
    # An upstream that answers on the head and reads the body afterwards
    # (nginx's `return 204`): the rest of each request must still go out
    # whole on the same connection, and the connection serve the next batch.
    # Batches of ~2 MB outgrow what the kernel takes at once, so the answer
    # comes while much of the request is still to send.
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_pki(tmp)
        up = EarlyAnswerUpstream(cert, key) if tls else EarlyAnswerUpstream()
        try:
            url = ("https://localhost:%d" if tls else "http://127.0.0.1:%d") % up.port
            flags = ["--upstream-ca-file", ca] if tls else []
            with forwarding(url, tmp, "--shards", "1", "--max-in-flight", "2", "--linger-ms", "100",
                            "--batch-max-events", "12000", "--batch-max-bytes", "8MiB", *flags) as g:
                ids = []
                for round_ in range(3):
                    ids += post_all(g, ids_of(12000, "early%d" % round_), per_request=500)
                    wait_for(lambda: len(up.stats()[1]) >= len(ids), what="round %d at the upstream" % round_)
                m = g.metrics()
                assert metric_sum(m, "tollgate_upstream_events_delivered_total") == len(ids)
                assert metric_sum(m, "tollgate_upstream_retries_total") == 0
                g.stop()
            connections, got = up.stats()
            assert sorted(got) == sorted(ids), "missing %d, extra %d" % (
                len(set(ids) - set(got)), len(got) - len(set(got)))
            # One shard's links, kept open: a link closed after every early
            # answer would open one connection per batch.
            assert connections <= 2, "%d connections" % connections
        finally:
            up.close()


def test_an_answer_before_the_body_still_gets_the_whole_request_over_http():
    check_answer_before_the_body(tls=False)


def test_an_answer_before_the_body_still_gets_the_whole_request_over_tls():
    check_answer_before_the_body(tls=True)


run_tests(globals())
