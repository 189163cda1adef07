"""The live topology drawing of a RUNNING word count on the embedded broker shows the
records each node processed (the engine's counters, read through ``metrics()``)."""

from __future__ import annotations

import time
import uuid

from streamnb import KafkaStreams, StreamsBuilder
from streamnb.notebook import _updater
from streamnb.notebook.widgets import LiveTopologyView
from streamnb.runtime.clients import TopicProducer


def test_running_wordcount_draws_live_per_node_counts(tmp_path):
    app_id = f"nodes-{uuid.uuid4().hex[:8]}"
    builder = StreamsBuilder()
    builder.stream(f"{app_id}-in").flat_map_values(str.split).group_by(
        lambda _k, word: word).count(materialized="word-counts").to_stream().to(
        f"{app_id}-out")
    streams = KafkaStreams(builder.build(), {
        "application.id": app_id, "state.dir": str(tmp_path),
        "metrics.recording.level": "DEBUG"})  # what the notebook's %%stream apps use
    producer = TopicProducer(streams.bootstrap_servers)
    producer.ensure_topic(f"{app_id}-in", partitions=1)
    streams.start()
    view = LiveTopologyView(_updater.Target(streams))
    updater = _updater.updater_for(streams)
    try:
        producer.send(f"{app_id}-in", ["a b c", "a b", "a"])
        producer.flush(10)
        sink = "KSTREAM-SINK-0000000008"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if streams.metrics()["node-process-total"].get(sink) == 6:
                break
            time.sleep(0.05)
        counts = streams.metrics()["node-process-total"]
        assert counts["KSTREAM-SOURCE-0000000000"] == 3
        assert counts["KSTREAM-FLATMAPVALUES-0000000001"] == 3
        assert counts["KSTREAM-AGGREGATE-0000000003"] == 6
        assert counts[sink] == 6
        view.refresh(updater.refresh_now())
        html = view.html.value
        assert '<tspan class="count"' in html
        # The drawing changes as records arrive: 4 more lines, 40 more words.
        producer.send(f"{app_id}-in", [" ".join(["x"] * 10)] * 4)
        producer.flush(10)
        while time.monotonic() < deadline:
            if streams.metrics()["node-process-total"].get(sink) == 46:
                break
            time.sleep(0.05)
        view.refresh(updater.refresh_now())
        assert '<tspan class="count" fill="#b3261e" font-weight="bold">46 rec</tspan>' in (
            view.html.value) and "46 rec" not in html
        frame = streams.metrics_df()
        rows = frame[frame["group"] == "stream-processor-node-metrics"]
        assert len(rows) == len(counts) and set(rows["name"]) == {"process-total"}
    finally:
        _updater.stop_all()
        streams.close(timeout=30)
