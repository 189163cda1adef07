"""Changelog topics get Kafka's configs: window and session store changelogs are compacted
and deleted after retention + windowstore.changelog.additional.retention.ms."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, ConfigResource

from streamnb import Materialized, SessionWindows, StreamsBuilder, TimeWindows
from streamnb.runtime.config import StreamsConfig
from streamnb.runtime.topics import plan_and_create_topics
from tests._kafka import unique_name


def _configs(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return {name: entry.value for name, entry in future.result(10).items()}


def test_window_session_and_kv_changelog_configs(kafka):
    app_id = unique_name("cfg")
    builder = StreamsBuilder()
    grouped = builder.stream(unique_name("in")).group_by_key()
    grouped.windowed_by(TimeWindows.of_size_and_grace(60_000, 10_000)).count(
        materialized=Materialized.as_("win"))
    grouped.windowed_by(SessionWindows.of_inactivity_gap_and_grace(5_000, 1_000)).count(
        materialized=Materialized.as_("sess"))
    grouped.count(materialized=Materialized.as_("kv"))
    config = StreamsConfig({"application.id": app_id,
                            "bootstrap.servers": kafka.bootstrap_servers,
                            "windowstore.changelog.additional.retention.ms": 1_000})
    plan = plan_and_create_topics(builder.build(), config, kafka.bootstrap_servers,
                                  embedded=True)

    window = _configs(kafka.bootstrap_servers, plan.changelogs["win"])
    assert window["cleanup.policy"] == "compact,delete"
    assert window["retention.ms"] == str(60_000 + 10_000 + 1_000)  # size + grace + extra
    session = _configs(kafka.bootstrap_servers, plan.changelogs["sess"])
    assert session["cleanup.policy"] == "compact,delete"
    assert session["retention.ms"] == str(5_000 + 1_000 + 1_000)  # gap + grace + extra
    assert _configs(kafka.bootstrap_servers, plan.changelogs["kv"])["cleanup.policy"] == "compact"
