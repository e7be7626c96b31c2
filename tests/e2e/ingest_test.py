# SPDX-License-Identifier: Apache-2.0
"""Ingest end to end: the seed README's curl commands, the INGEST_API.md §8 vectors
that apply to v1/v3, tollgate's deliberate differences, and that the output file
holds exactly the accepted events, byte for byte (only a missing or null time is
stamped)."""
import os
import subprocess

from harness import (BATCH, CE, DATA, E, Gateway, assert_problem, assert_stamped, batch, event, metric,
                     raw_event, run_tests, split_json_array)

V1 = "/api/v1/events"
V3 = "/api/v3/openmeter/events"


def curl(port, ctype, data_file, data_flag="-d"):
    """The seed README's command (-d @file), returning (status, headers text, body)."""
    r = subprocess.run(["curl", "-sS", "-D", "-", "-o", "-", "--max-time", "20",
                        "http://127.0.0.1:%d/api/v1/events" % port, "-H", "Content-Type: " + ctype,
                        data_flag, "@" + data_file],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    status = int(head.split(b"\r\n")[0].split(b" ")[1])
    return status, head.decode("latin-1"), body


def curl_d_bytes(path):
    # curl -d @file strips carriage returns and newlines: these are the bytes sent.
    with open(path, "rb") as f:
        return f.read().replace(b"\r", b"").replace(b"\n", b"")


def test_seed_readme_curl_commands():
    event_json = os.path.join(DATA, "event.json")
    batch_json = os.path.join(DATA, "batch.json")
    with Gateway("--shards", "1") as g:
        status, head, body = curl(g.port, "application/cloudevents+json", event_json)
        assert status == 204, head
        assert body == b"", body
        assert "content-type" not in head.lower(), "a 204 must carry no Content-Type: " + head
        status, head, body = curl(g.port, "application/cloudevents-batch+json", batch_json)
        assert status == 204 and body == b"", head
        assert "content-type" not in head.lower(), head
        g.stop()
        out = g.output()
    expected = [curl_d_bytes(event_json)] + split_json_array(curl_d_bytes(batch_json))
    assert len(expected) == 4
    assert len(out) == 4, out
    stamps = set()
    for line, original in zip(out, expected):
        # The seed events carry no time: each gets the receipt time after its '{'.
        stamps.add(assert_stamped(line, original))
    # One receipt time per request: the batch's three events share theirs.
    assert len(set(assert_stamped(l, o) for l, o in zip(out[1:], expected[1:]))) == 1


def test_pretty_printed_events_stay_on_one_line():
    # --data-binary sends the seed files with their line breaks. JSON Lines needs
    # one event per line: raw CR/LF (only ever white space in valid JSON) become
    # spaces; every other byte is kept.
    event_json = os.path.join(DATA, "event.json")
    batch_json = os.path.join(DATA, "batch.json")
    with Gateway("--shards", "1") as g:
        assert curl(g.port, "application/json", event_json, "--data-binary")[0] == 204
        assert curl(g.port, "application/json", batch_json, "--data-binary")[0] == 204
        g.stop()
        out = g.output()

    def flat(path):
        with open(path, "rb") as f:
            return f.read().replace(b"\r", b" ").replace(b"\n", b" ")
    expected = [flat(event_json).strip()] + split_json_array(flat(batch_json))
    assert len(out) == 4, out
    for line, original in zip(out, expected):
        assert_stamped(line, original)


# Vectors that must be rejected whole: (name, content type, body, words the detail must name).
REJECTED = [
    ("S1 subject missing", CE, event("r-s1", subject=None), ["subject"]),
    ("S2 id missing", CE, event("r-s2", id=None), ["id"]),
    ("S5 specversion missing", CE, event("r-s5", specversion=None), ["specversion"]),
    ("S6 empty type", CE, event("r-s6", type_=""), ["type"]),
    ("S6 empty source", CE, event("r-s6b", source=""), ["source"]),
    ("S7 subject null", CE, raw_event("r-s7", b',"subject":null').replace(b'"subject":"customer-1",', b""),
     ["subject"]),
    ("S8 id number", CE, E.replace(b'"evt-1"', b"123"), ["id"]),
    ("S9 time without offset", CE, event("r-s9", time="2023-01-01T00:00:00"), ["time"]),
    ("S10 date only", CE, event("r-s10", time="2023-01-01"), ["time"]),
    ("S10 space separator", CE, event("r-s10b", time="2023-01-01 00:00:00Z"), ["time"]),
    ("S10 lowercase t/z", CE, event("r-s10c", time="2023-01-01t00:00:00z"), ["time"]),
    ("not a calendar date", CE, event("r-feb30", time="2023-02-30T00:00:00Z"), ["time"]),
    ("S11 numeric time", CE, event("r-s11", time=1672531200), ["time"]),
    ("S15 datacontenttype text/plain", CE, event("r-s15", datacontenttype="text/plain"), ["datacontenttype"]),
    # Either attribute is wrong; "data" names both.
    ("T6 datacontenttype xml", CE, event("r-t6", datacontenttype="application/xml", data="<xml></xml>"), ["data"]),
    ("T7 data string", CE, event("r-t7", data="string"), ["data"]),
    ("S16 data array", CE, event("r-s16", data=[1, 2]), ["data"]),
    ("S16 data number", CE, event("r-s16b", data=42), ["data"]),
    ("S17 array under cloudevents+json", CE, batch([event("r-s17")]), ["object"]),
    ("S18 object under batch", BATCH, event("r-s18"), ["array"]),
    ("S19 batch with a bad second event", BATCH, batch([event("r-s19-0"), event("r-s19-1", subject=None)]),
     ["index 1", "subject"]),
    ("S20 application/json array with a bad event", "application/json",
     batch([event("r-s20-0"), event("r-s20-1"), event("r-s20-2", type_=None)]), ["index 2", "type"]),
    ("S21 null batch", BATCH, b"null", []),
    ("C4 text/plain", "text/plain", event("r-c4"),
     ["application/cloudevents+json", "application/cloudevents-batch+json", "application/json"]),
    ("C5 no Content-Type", None, event("r-c5"), ["Content-Type"]),
    ("C6 empty body", CE, b"", ["empty"]),
    ("C7 not JSON", CE, b"invalid", []),
    ("C9 [] under application/json", "application/json", b"[]", ["no events"]),
    ("C10 specversion 2.0", CE, event("r-c10", specversion="2.0"), ["specversion"]),
    ("C13 bad extension name", CE, event("r-c13", trace_id="x"), ["trace_id"]),
    ("C14 object extension value", CE, event("r-c14", myext={"a": 1}), ["myext"]),
    ("C15 bad source", CE, event("r-c15", source=":bad"), ["source"]),
    ("trailing garbage (tollgate: rejected)", CE, event("r-trail") + b"x", []),
    ("two values (tollgate: rejected)", CE, event("r-two-0") + event("r-two-1"), []),
    ("data_base64 (tollgate: rejected)", CE, raw_event("r-b64", b',"data_base64":"AAEC"'), ["data_base64"]),
    ("batch element not an object", BATCH, b"[" + event("r-elem-0") + b",42]", ["index 1"]),
]

# Vectors that must be accepted: (name, path, content type, events, body or None for the one event).
ACCEPTED = [
    ("E", V1, CE, [event("a-e")], None),
    ("T2 no time, no data", V1, CE,
     [b'{"specversion":"1.0","id":"a-t2","source":"source","type":"type","subject":"subject"}'], None),
    ("T3 application/json object", V1, "application/json", [event("a-t3")], None),
    ("T4 application/json array", V1, "application/json", [event("a-t4-0"), event("a-t4-1")], "batch"),
    ("T8 data null", V1, CE, [event("a-t8", data=None) [:-1] + b',"data":null}'], None),
    ("T9 no data", V1, CE, [event("a-t9", data=None)], None),
    ("T10 empty data", V1, CE, [event("a-t10", data={})], None),
    ("S12 offset time kept as sent", V1, CE, [event("a-s12", time="2023-01-01T01:01:01.001+02:00")], None),
    ("S13 time null", V1, CE, [event("a-s13", time=None)[:-1] + b',"time":null}'], None),
    ("S13 time absent", V1, CE, [event("a-s13b", time=None)], None),
    ("S14 datacontenttype json", V1, CE, [event("a-s14", datacontenttype="application/json")], None),
    ("C11 specversion 0.3", V1, CE, [event("a-c11", specversion="0.3")], None),
    ("C12 extension kept verbatim", V1, CE, [event("a-c12", region="eu", retries=3, sampled=True)], None),
    ("C16 duplicate ids both kept", V1, BATCH, [event("a-c16"), event("a-c16")], "batch"),
    ("unicode and escapes untouched", V1, CE,
     [raw_event("a-uni", b',"note":"caf\xc3\xa9 \\u00e9 \\"q\\" \\/"').replace(b'"data":{"duration_ms":"12"}',
                                                                          b'"data":{"n":1.50e3}')], None),
    ("C1 charset parameter (tollgate: accepted)", V1, "application/json; charset=utf-8", [event("a-c1")], None),
    ("C3 media type case (tollgate: accepted)", V1, "Application/CloudEvents+JSON", [event("a-c3")], None),
    ("batch type with parameter", V1, "application/cloudevents-batch+json ; charset=UTF-8",
     [event("a-bp-0"), event("a-bp-1"), event("a-bp-2")], "batch"),
    ("white space around the value", V1, CE, [event("a-ws")], "ws"),
    ("S23 v3 object", V3, "application/json", [event("a-s23")], None),
    ("C2 v3 with charset", V3, "application/cloudevents+json; charset=utf-8", [event("a-c2")], None),
    ("v3 batch", V3, BATCH, [event("a-v3b-0"), event("a-v3b-1")], "batch"),
]


def body_for(events, how):
    if how == "batch":
        return batch(events)
    if how == "ws":
        return b" \r\n\t" + events[0] + b" \n\n"
    return events[0]


def test_vectors_rejected_and_accepted():
    with Gateway("--shards", "1") as g:
        with g.connect() as c:
            # Everything on one keep-alive connection: a 400 does not close it.
            from harness import http_request
            for name, ctype, body, words in REJECTED:
                c.send(http_request("POST", V1, body, {"Content-Type": ctype} if ctype else {}))
                r = c.response()
                try:
                    assert_problem(r, 400, *words)
                except AssertionError as e:
                    raise AssertionError("%s: %s" % (name, e))
            expected = []
            for name, path, ctype, events, how in ACCEPTED:
                c.send(http_request("POST", path, body_for(events, how), {"Content-Type": ctype}))
                r = c.response()
                want = 204 if path == V1 else 202
                assert r.status == want, "%s: %r" % (name, r)
                assert r.body == b"", name
                if want == 204:
                    assert r.header("Content-Type") is None, "%s: 204 with a Content-Type: %r" % (name, r)
                expected += events
            # C8: [] under the batch type ingests nothing; 204 on v1, 202 on v3.
            c.send(http_request("POST", V1, b"[]", {"Content-Type": BATCH}))
            assert c.response().status == 204
            c.send(http_request("POST", V3, b"[]", {"Content-Type": BATCH}))
            assert c.response().status == 202
        m = g.metrics()
        assert metric(m, "tollgate_events_accepted_total") == len(expected), m
        assert metric(m, "tollgate_http_requests_total", endpoint=V1, status="400") == len(REJECTED)
        g.stop()
        out = g.output()
    assert len(out) == len(expected), "output has %d lines, expected %d:\n%s" % (
        len(out), len(expected), b"\n".join(out).decode("utf-8", "replace"))
    for line, original in zip(out, expected):
        if b'"time":' in original and b'"time":null' not in original:
            assert line == original, "event changed on its way out:\n%r\n%r" % (line, original)
        else:
            assert_stamped(line, original)
    # Nothing from a rejected request reached the output.
    assert not any(b'"r-' in line for line in out), out


def test_v3_rejects_extensions():
    with Gateway("--shards", "1") as g:
        r = g.post(event("v3-ext", myext="x"), "application/json", path=V3)
        assert_problem(r, 400, "myext")
        r = g.post(batch([event("v3-ok"), event("v3-ext2", region="eu")]), BATCH, path=V3)
        assert_problem(r, 400, "index 1", "region")
        # The same extension is fine on v1 (C12).
        r = g.post(event("v1-ext", myext="x"), "application/json")
        assert r.status == 204, r
        g.stop()
        out = g.output()
    assert len(out) == 1 and b'"v1-ext"' in out[0], out


def test_large_batch_byte_exact():
    # T5: a 1000-event batch is accepted and written out in order, byte for byte.
    events = [event("big-%04d" % i, data={"i": i, "pad": "x" * (i % 37)}) for i in range(1000)]
    with Gateway("--shards", "1") as g:
        r = g.post(batch(events), BATCH)
        assert r.status == 204, r
        out = g.wait_output(1000)
        g.stop()
        out = g.output()
    assert out == events


if __name__ == "__main__":
    run_tests(globals())
