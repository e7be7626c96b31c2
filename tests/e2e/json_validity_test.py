# SPDX-License-Identifier: Apache-2.0
"""What tollgate accepts is JSON (issue 16), through the real binary: a string
value followed by ':' gets 400 under every media type and both APIs, and
nothing of it reaches the output; and a deterministic set of mutated events is
posted, with Python's json module as the reference: every body answered 2xx
parses, and so does every line written out."""
import json
import random

from harness import BATCH, CE, E, Gateway, assert_problem, batch, http_request, metric, run_tests

V1 = "/api/v1/events"
V3 = "/api/v3/openmeter/events"
TYPES = [CE, BATCH, "application/json"]
HEAD = b'{"specversion":"1.0","id":"1","source":"c","type":"a",'
SHAPES = [
    HEAD + b'"subject":"t":}}',
    HEAD + b'"subject":"t":{}}}',
    HEAD + b'"subject":"t":"u"}',
    b'{"specversion":"1.0","id":"1":},"source":"c","type":"a","subject":"t"}',
    HEAD + b'"subject":"t","ext":"v":}}',
    HEAD + b'"subject":"t","time":"2023-01-01T00:00:00Z":}}',
    HEAD + b'"subject":"t","data":{"k":["v":1]}}',
    HEAD + b'"subject":"t","note":"\\n":}}',  # with an escape in the body
]


def strict_json(body):
    """Python's json as the reference: RFC 8259 (NaN and Infinity refused), UTF-8."""
    def no_constants(name):
        raise ValueError("not JSON: " + name)
    try:
        json.loads(body.decode("utf-8"), parse_constant=no_constants)
        return True
    except ValueError:
        return False


def test_string_followed_by_colon_gets_400():
    sent = 0
    with Gateway("--shards", "1") as g:
        with g.connect() as c:
            for shape in SHAPES:
                assert not strict_json(shape), shape
                for ctype in TYPES:
                    body = shape if ctype == CE else b"[" + shape + b"]"
                    for path in (V1, V3):
                        c.send(http_request("POST", path, body, {"Content-Type": ctype}))
                        r = c.response()
                        try:
                            assert_problem(r, 400, "malformed JSON")
                        except AssertionError as e:
                            raise AssertionError("%r as %s on %s: %s" % (body, ctype, path, e))
                        sent += 1
        m = g.metrics()
        assert metric(m, "tollgate_events_accepted_total") == 0, m
        assert metric(m, "tollgate_http_requests_total", endpoint=V1, status="400") == sent // 2
        g.stop()
        assert g.output() == []


PIECES = [b'"', b":", b",", b"{", b"}", b"[", b"]", b" ", b"\\", b"\\u00e9", b"0", b"1", b"-", b"e", b"true",
          b"null", b'"x"', b'"x":', b':"t"', b"{}", b"[]", b"\xc3\xa9", b"\x80", b'"ext":"v",']


def mutate(rng, s):
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(s))
        op = rng.randrange(4)
        if op == 0:
            s = s[:at] + rng.choice(PIECES) + s[at:]
        elif op == 1:
            s = s[:at] + s[at + rng.randint(1, 4):]
        elif op == 2:
            src = rng.randint(0, len(s))
            s = s[:at] + s[src:src + rng.randint(1, 12)] + s[at:]
        else:
            s = s[:at] + b":" + rng.choice(PIECES) + s[at:]
    return s


def test_every_accepted_body_is_json():
    rng = random.Random(16)
    bases = [E, E[:-1] + b',"ext":"v","n":7,"data2":null}', batch([E, E])]
    bodies = [mutate(rng, bases[i % len(bases)]) for i in range(800)]
    accepted = 0
    with Gateway("--shards", "1") as g:
        with g.connect() as c:
            for body in bodies:
                for ctype in TYPES:
                    c.send(http_request("POST", V1, body, {"Content-Type": ctype}))
                    r = c.response()
                    assert r.status in (204, 400), "%r as %s: %r" % (body, ctype, r)
                    if r.status == 204:
                        accepted += 1
                        assert strict_json(body), "accepted but not JSON (%s): %r" % (ctype, body)
        g.stop()
        out = g.output()
    print("%d of %d requests accepted" % (accepted, 3 * len(bodies)))
    # Not vacuous: some of the mutants are still valid events.
    assert accepted >= 50, accepted
    for line in out:
        assert strict_json(line), line


run_tests(globals())
