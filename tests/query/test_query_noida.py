"""IQv2, metadata and the REST API on a running app: two instances on a noida-db broker."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from confluent_kafka import Producer

from streamnb import KafkaStreams, Materialized, StreamsBuilder, TimeWindows
from streamnb.broker import ensure_topics
from streamnb.query import (
    FailureReason,
    KeyQuery,
    PositionBound,
    RangeQuery,
    StateQueryRequest,
)
from streamnb.query.service import StreamsNotStartedException, StreamsStoppedException
from streamnb.runtime import State
from tests._kafka import noida_broker, unique_name, wait_for

KEYS = [f"k{i:02d}" for i in range(24)]


def topology():
    b = StreamsBuilder()
    b.table("tbl", materialized=Materialized.as_("tstore"))
    (b.stream("events").group_by_key()
     .windowed_by(TimeWindows.of_size_and_grace(60_000, 600_000)).count(materialized="wstore"))
    b.table("vtbl", materialized=Materialized.as_("vstore").with_versioned(timedelta(hours=1)))
    return b.build()


def config(broker, app_id, tmp_path, **extra):
    conf = {"application.id": app_id, "bootstrap.servers": broker.bootstrap_servers,
            "state.dir": str(tmp_path), "default.key.serde": "string",
            "default.value.serde": "string", "commit.interval.ms": 100,
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "application.server": "127.0.0.1:0"}
    conf.update(extra)
    return conf


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            body = r.read().decode()
            return r.status, json.loads(body) if "json" in r.headers["Content-Type"] else body
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _raw_get(base, target, method=b"GET"):
    """The whole answer to ``target`` sent as these bytes (urllib would encode them)."""
    import socket

    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(method + b" " + target + b" HTTP/1.1\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class Sender:
    """A producer that reports where each record landed (partition, offset)."""

    def __init__(self, broker):
        self.producer = Producer({"bootstrap.servers": broker.bootstrap_servers,
                                  "partitioner": "murmur2_random", "linger.ms": 0})

    def send(self, topic, key, value, timestamp=None):
        where = {}

        def done(err, msg):
            assert err is None, err
            where["at"] = (msg.partition(), msg.offset())
        kwargs = {} if timestamp is None else {"timestamp": timestamp}
        self.producer.produce(topic, value.encode(), key.encode(), on_delivery=done, **kwargs)
        self.producer.flush(10)
        return where["at"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with noida_broker() as broker:
        ensure_topics(broker.bootstrap_servers, {"tbl": 2, "events": 2, "vtbl": 2})
        sender = Sender(broker)
        placed = {k: sender.send("tbl", k, f"v-{k}") for k in KEYS}
        for i in range(6):
            sender.send("events", "e1" if i % 2 else "e2", "x", timestamp=1_000 + i)
        for i in range(8):  # windows [60 s, 120 s) spread over both partitions
            sender.send("events", f"w{i}", "x", timestamp=70_000 + i)
        sender.send("vtbl", "x", "old", timestamp=1_000)
        sender.send("vtbl", "x", "new", timestamp=2_000)
        app_id = unique_name("iq")
        one = KafkaStreams(topology(), config(broker, app_id, tmp_path_factory.mktemp("a")))
        two = KafkaStreams(topology(), config(broker, app_id, tmp_path_factory.mktemp("b")))
        one.start()
        two.start()
        try:
            def settled():
                tasks = [t for s in (one, two) for m in s.local_thread_metadata()
                         for t in m["active_tasks"]]
                return (one.state() is State.RUNNING and two.state() is State.RUNNING
                        and len(tasks) == 6)
            wait_for(settled, what="both instances RUNNING with 3 tasks each")

            def all_loaded():
                found = {}
                for s in (one, two):
                    r = s.query(StateQueryRequest.in_store("tstore").with_query(
                        RangeQuery.with_no_bounds()))
                    for part in r.partition_results.values():
                        found.update(dict(part.result))
                return len(found) == len(KEYS)
            wait_for(all_loaded, what="every key in the stores")
            yield {"broker": broker, "one": one, "two": two, "placed": placed,
                   "sender": sender, "app_id": app_id}
        finally:
            one.close(10)
            two.close(10)


def owner_and_other(app, key):
    meta = app["one"].query_metadata_for_key("tstore", key)
    if meta.is_local:
        return app["one"], app["two"], meta
    return app["two"], app["one"], meta


def test_metadata_matches_the_producer_partitioning(app):
    for key, (partition, _offset) in app["placed"].items():
        owner, other, meta = owner_and_other(app, key)
        assert meta.partition == partition
        assert str(meta.active_host) == owner.rest_address.removeprefix("http://")
        assert meta.client_id == owner.client_id
        request = StateQueryRequest.in_store("tstore").with_query(KeyQuery.with_key(key))
        assert owner.query(request).get_only_partition_result().result == f"v-{key}"
        there = other.query(request.with_partitions({partition}))
        assert there.partition_results[partition].failure_reason is FailureReason.NOT_PRESENT
    clients = app["one"].metadata_for_all_streams_clients()
    assert sorted(c.client_id for c in clients) == sorted(
        [app["one"].client_id, app["two"].client_id])
    assert all(len(c.topic_partitions) == 3 for c in clients)


def test_rest_query_is_routed_to_the_owner(app):
    seen = set()
    for key in KEYS[:8]:
        owner, other, meta = owner_and_other(app, key)
        status, body = get(f"{other.rest_address}/v1/stores/tstore/key?key={key}")
        assert status == 200, body
        assert body["value"] == f"v-{key}"
        assert body["served_by"] == owner.client_id
        assert body["partition"] == meta.partition
        seen.add(owner.client_id)
    assert len(seen) == 2  # keys of both instances were asked through the other one
    status, body = get(f"{app['one'].rest_address}/v1/stores/tstore/metadata?key={KEYS[0]}")
    assert status == 200 and body["partition"] == app["placed"][KEYS[0]][0]


def test_position_bounds_wait_for_or_refuse_stale_state(app):
    key = KEYS[3]
    owner, _other, _meta = owner_and_other(app, key)
    partition, offset = app["sender"].send("tbl", key, "fresh")
    request = StateQueryRequest.in_store("tstore").with_query(KeyQuery.with_key(key))
    bound = PositionBound.at({"tbl": {partition: offset}})
    waited = owner.query(request.with_position_bound(bound), timeout=15)
    assert waited.partition_results[partition].result == "fresh"
    assert waited.position.partition_positions("tbl")[partition] >= offset

    ahead = PositionBound.at({"tbl": {partition: offset + 1}})
    started = time.monotonic()
    refused = owner.query(request.with_position_bound(ahead))
    assert refused.partition_results[partition].failure_reason is FailureReason.NOT_UP_TO_BOUND
    timed_out = owner.query(request.with_position_bound(ahead), timeout=0.3)
    assert timed_out.partition_results[partition].failure_reason is (
        FailureReason.NOT_UP_TO_BOUND)
    assert time.monotonic() - started >= 0.3

    results = {}
    waiter = threading.Thread(target=lambda: results.setdefault(
        "r", owner.query(request.with_position_bound(ahead), timeout=15)))
    waiter.start()
    time.sleep(0.2)
    assert app["sender"].send("tbl", key, "newer") == (partition, offset + 1)
    waiter.join(20)
    assert results["r"].partition_results[partition].result == "newer"

    stale = json.dumps({"tbl": {str(partition): offset + 100}})
    status, body = get(f"{owner.rest_address}/v1/stores/tstore/key?key={key}&position="
                       + urllib.request.quote(stale))
    assert status == 409 and body["error"] == "not_up_to_bound"


def test_window_and_versioned_over_rest(app):
    base = app["one"].rest_address
    status, body = get(f"{base}/v1/stores/wstore/window?key=e1&from=0&to=100000")
    assert status == 200, body
    assert [(i["window_start"], i["value"]) for i in body["items"]] == [(0, 3)]
    status, body = get(f"{base}/v1/stores/vstore/versioned?key=x&as_of=1500")
    assert status == 200 and body["value"] == "old" and body["valid_to"] == 2000
    status, body = get(f"{base}/v1/stores/vstore/versioned?key=x&all_versions=true")
    assert status == 200 and [i["value"] for i in body["items"]] == ["old", "new"]


def test_window_range_over_rest_gathers_every_instance(app):
    wanted = [f"w{i}" for i in range(8)]
    url = "/v1/stores/wstore/window?from=60000&to=60000"

    def seen(client, extra=""):
        status, body = get(app[client].rest_address + url + extra)
        assert status == 200, body
        return body
    wait_for(lambda: [i["key"] for i in seen("one")["items"]] == wanted,
             what="every windowed count, gathered from both instances")
    for client in ("one", "two"):
        body = seen(client)
        assert [(i["key"], i["value"], i["window_start"]) for i in body["items"]] == [
            (k, 1, 60_000) for k in wanted]
        assert body["partitions"] == [0, 1] and body["truncated"] is False
        assert body["served_by"] == sorted([app["one"].client_id, app["two"].client_id])
        page = seen(client, "&limit=3")
        assert [i["key"] for i in page["items"]] == wanted[:3] and page["truncated"] is True
    mine = [i["key"] for i in seen("one", "&local_only=true")["items"]]
    theirs = [i["key"] for i in seen("two", "&local_only=true")["items"]]
    assert mine and theirs and sorted(mine + theirs) == wanted


def test_range_pages_walk_the_local_store(app):
    base = app["one"].rest_address
    local = {k for k in KEYS if app["one"].query_metadata_for_key("tstore", k).is_local}
    collected, after = [], None
    for _ in range(20):
        url = f"{base}/v1/stores/tstore/range?local_only=true&limit=5" + (
            f"&after={after}" if after else "")
        status, body = get(url)
        assert status == 200, body
        assert body["count"] <= 5
        collected += [i["key"] for i in body["items"]]
        after = body["next_after"]
        if after is None:
            break
    assert collected == sorted(local)
    status, body = get(f"{base}/v1/stores/tstore/range?order=desc&limit=2&from=k00&to=k23"
                       "&local_only=true")
    assert [i["key"] for i in body["items"]] == sorted(local, reverse=True)[:2]


def current_values(app):
    values = {}
    for s in (app["one"], app["two"]):
        r = s.query(StateQueryRequest.in_store("tstore").with_query(RangeQuery.with_no_bounds()))
        for part in r.partition_results.values():
            values.update(dict(part.result))
    return values


def test_range_over_rest_gathers_every_instance_in_key_order(app):
    values = current_values(app)
    assert len(values) == len(KEYS)
    for client in ("one", "two"):
        base = app[client].rest_address
        collected, after, served = [], None, set()
        for _ in range(20):
            url = f"{base}/v1/stores/tstore/range?limit=5" + (f"&after={after}" if after else "")
            status, body = get(url)
            assert status == 200, body
            collected += [(i["key"], i["value"]) for i in body["items"]]
            served.update(body["served_by"])
            assert body["partitions"] == [0, 1]
            after = body["next_after"]
            if after is None:
                break
        assert collected == sorted(values.items())  # each key once, in order, both halves
        assert served == {app["one"].client_id, app["two"].client_id}
    status, body = get(f"{app['two'].rest_address}/v1/stores/tstore/range?order=desc&limit=4"
                       "&from=k03&to=k20")
    assert [i["key"] for i in body["items"]] == ["k20", "k19", "k18", "k17"]
    assert body["next_after"] == "k17"


def test_range_across_instances_in_process(app):
    from streamnb.query.fanout import range_across_instances

    values = current_values(app)
    whole = range_across_instances(app["one"], "tstore", RangeQuery.with_no_bounds())
    assert [(kv.key, kv.value) for kv in whole.items] == sorted(values.items())
    assert whole.next_after is None
    assert set(whole.partitions) == {0, 1}
    assert set(whole.partitions.values()) == {app["one"].client_id, app["two"].client_id}
    pages, after = [], None
    query = RangeQuery.with_range("k02", "k21").with_descending_keys()
    while True:
        page = range_across_instances(app["two"], "tstore",
                                      query.with_page(6, after) if after else query.with_page(6))
        pages.append([kv.key for kv in page.items])
        after = page.next_after
        if after is None:
            break
    assert [k for p in pages for k in p] == [f"k{i:02d}" for i in range(21, 1, -1)]
    assert all(len(p) == 6 for p in pages[:-1])


def test_bad_input_gets_4xx_and_processing_goes_on(app):
    base = app["one"].rest_address
    cases = {
        "/v1/stores/nope/key?key=a": (404, "unknown_store"),
        "/v1/stores/wstore/key?key=a": (400, "wrong_store_type"),
        "/v1/stores/tstore/versioned?key=a": (400, "wrong_store_type"),
        "/v1/stores/tstore/key?key=abc&key_type=int": (400, "malformed_key"),
        "/v1/stores/tstore/key?key=%7Bx&key_type=json": (400, "malformed_key"),
        "/v1/stores/tstore/key": (400, "missing_parameter"),
        "/v1/stores/tstore/key?key=nokey": (404, "key_not_found"),
        "/v1/stores/tstore/range?limit=100000000": (400, "page_too_large"),
        "/v1/stores/tstore/range?limit=-3": (400, "bad_request"),
        "/v1/stores/tstore/range?execution_info=-1": (400, "bad_request"),
        "/v1/stores/tstore/key?key=a&position=notjson": (400, "malformed_position"),
        "/v1/stores/wstore/window?from=10&to=1": (400, "bad_request"),
        "/nowhere": (404, "not_found"),
        # a key the store's serde cannot take: was a 503 no_metadata / an empty 200 page
        "/v1/stores/tstore/metadata?key=5&key_type=int": (400, "malformed_key"),
        "/v1/stores/tstore/range?from=5&key_type=int": (400, "malformed_key"),
        # positions and keys no JSON decoder or int() takes: were 500s
        "/v1/stores/tstore/range?position=" + urllib.request.quote('{"tbl": {"0": 1e400}}'):
            (400, "malformed_position"),
        "/v1/stores/tstore/range?key_type=json&from=" + "%5B" * 5000: (400, "malformed_key"),
        "/v1/stores/tstore/key?key=%FF": (400, "malformed_query"),
        f"/v1/stores/vstore/versioned?key=x&as_of={2**63}": (400, "bad_request"),
    }
    for path, (status, code) in cases.items():
        for client in ("one", "two"):  # each instance owns other keys
            got, body = get(app[client].rest_address + path)
            assert (got, body["error"]) == (status, code), (client, path[:80], body)
            assert body["message"]
    # raw UTF-8 and control bytes in the target (curl sends them so): were read as latin-1
    # and, sent on to the other instance, a 503 owner_unreachable or a 500
    owner, other, _meta = owner_and_other(app, KEYS[1])
    for target, status in [(f"/v1/stores/tstore/key?key={KEYS[1]}&x=é", 200),
                           ("/v1/stores/tstore/range?from=é", 200),
                           ("/v1/stores/tstore/range?to=k\x01", 200),
                           ("/v1/stores/tstore/key?key=é", 404)]:
        answer = _raw_get(other.rest_address, target.encode())
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()), (target, answer[:300])
    assert b'"key":"\\u00e9"' in _raw_get(other.rest_address,
                                           "/v1/stores/tstore/key?key=é".encode())
    head = _raw_get(other.rest_address, f"/v1/stores/tstore/key?key={KEYS[1]}".encode(),
                    b"HEAD")
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")  # no body
    request = urllib.request.Request(base + "/v1/stores/tstore/key?key=a", data=b"x",
                                     method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 405
    key = KEYS[5]
    app["sender"].send("tbl", key, "after-bad-input")
    owner, _other, _meta = owner_and_other(app, key)
    wait_for(lambda: owner.query(StateQueryRequest.in_store("tstore").with_query(
        KeyQuery.with_key(key))).get_only_partition_result().result == "after-bad-input",
        what="processing after bad requests")
    assert app["one"].state() is State.RUNNING


def test_health_status_and_prometheus_metrics(app):
    from prometheus_client.parser import text_string_to_metric_families

    base = app["two"].rest_address
    assert get(base + "/health/live")[0] == 200
    status, body = get(base + "/health/ready")
    assert status == 200 and body["status"] == "UP"
    status, body = get(base + "/v1/status")
    assert status == 200 and body["state"] == "RUNNING"
    assert sum(len(t["active_tasks"]) for t in body["threads"]) == 3
    assert {s["name"]: s["kind"] for s in body["stores"]} == {
        "tstore": "key_value", "wstore": "window", "vstore": "versioned"}
    status, text = get(base + "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    processed = families["kafka_streams_stream_thread_metrics_process"]
    assert processed.type == "counter"
    assert sum(s.value for s in processed.samples) >= len(KEYS) // 2
    entries = families["kafka_streams_stream_state_metrics_num_entries"]
    stores = {s.labels["state_id"] for s in entries.samples}
    assert stores == {"tstore", "wstore", "vstore"}
    assert all("task_id" in s.labels and "thread_id" in s.labels for s in entries.samples)
    lag = families["kafka_consumer_consumer_fetch_manager_metrics_records_lag"]
    assert {s.labels["topic"] for s in lag.samples} >= {"tbl"}


def test_openapi_fuzzing_gives_no_server_errors(app):
    pytest.importorskip("schemathesis")
    from tests.query.fuzz_rest import fuzz

    # A fixed number of generated cases, with a generous time cap: the figure that matters is
    # how many calls were checked, not how fast a loaded CI machine makes them. Both
    # instances: each forwards and fans out to the other for its own keys and partitions.
    # Random per run; a failure prints its hypothesis seed and a curl line to replay it.
    for client in ("one", "two"):
        failures, calls = fuzz(app[client].rest_address, seconds=60, examples=100)
        assert calls > 30, (client, calls)
        assert failures == [], "\n".join(failures)


def test_bearer_token_and_rest_off_by_default(app, tmp_path):
    broker = app["broker"]
    secured = KafkaStreams(topology(), config(broker, unique_name("tok"), tmp_path / "t",
                                              **{"streamnb.rest.auth.token": "s3cret",
                                                 "streamnb.rest.switch.interval.ms": 2}))
    plain = KafkaStreams(topology(), config(broker, unique_name("off"), tmp_path / "p",
                                            **{"application.server": ""}))
    request = StateQueryRequest.in_store("tstore").with_query(KeyQuery.with_key("a"))
    with pytest.raises(StreamsNotStartedException, match="start"):
        plain.query(request)
    try:
        secured.start()
        plain.start()
        base = secured.rest_address
        assert plain.rest_address is None
        assert secured._query_service.rest.switch_interval_s == pytest.approx(0.002)
        assert get(base + "/health/live")[0] == 200
        status, body = get(base + "/v1/status")
        assert status == 401 and body["error"] == "unauthorized"
        assert get(base + "/v1/status", {"Authorization": "Bearer wrong"})[0] == 401
        assert get(base + "/v1/status", {"Authorization": "Bearer s3cret"})[0] == 200
    finally:
        secured.close(10)
        plain.close(10)
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/health/live", timeout=2)
    with pytest.raises(StreamsStoppedException, match="stopped"):
        plain.query(request)
