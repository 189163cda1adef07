"""StreamsConfig: Kafka Streams' configuration keys, defaults and validation.

Users bring their ``streams.properties`` from Java, so the keys are Kafka's own. A typo must
fail at construction with the closest valid key, not silently fall back to a default; client
settings (security, SASL, SSL, timeouts...) pass through to confluent-kafka unchanged.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import StreamsException
from ..serde import Serde, serde_from_config

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE_V2 = "exactly_once_v2"


class ConfigException(StreamsException, ValueError):
    """A configuration key or value is invalid (Kafka's ``ConfigException``)."""


# Kafka Streams' own keys and their defaults (None: no default / computed).
STREAMS_DEFAULTS: dict[str, Any] = {
    "application.id": None,
    "bootstrap.servers": None,
    "application.server": "",
    "acceptable.recovery.lag": 10_000,
    "buffered.records.per.partition": 1000,
    "built.in.metrics.version": "latest",
    "cache.max.bytes.buffering": 10 * 1024 * 1024,
    "statestore.cache.max.bytes": 10 * 1024 * 1024,
    "client.id": "",
    "commit.interval.ms": None,  # 30000, or 100 under exactly-once (Kafka's defaults)
    "default.client.supplier": None,
    "default.deserialization.exception.handler": "logAndFail",
    "deserialization.exception.handler": None,
    "default.production.exception.handler": "fail",
    "production.exception.handler": None,
    "processing.exception.handler": None,
    "default.key.serde": "json",
    "default.value.serde": "json",
    "default.timestamp.extractor": None,
    "default.dsl.store": "in_memory",
    "dsl.store.suppliers.class": None,
    "log.summary.interval.ms": 120_000,
    "max.task.idle.ms": 0,
    "max.warmup.replicas": 2,
    "metrics.num.samples": 2,
    "metrics.recording.level": "INFO",
    "metrics.sample.window.ms": 30_000,
    "num.standby.replicas": 0,
    "num.stream.threads": 1,
    "poll.ms": 100,
    "probing.rebalance.interval.ms": 600_000,
    "processing.guarantee": AT_LEAST_ONCE,
    "rack.aware.assignment.strategy": "none",
    "rack.aware.assignment.tags": "",
    "repartition.purge.interval.ms": 30_000,
    "replication.factor": -1,
    "rocksdb.config.setter": None,
    "state.cleanup.delay.ms": 600_000,
    "state.dir": None,  # default_state_dir() of the broker package
    "task.assignor.class": None,
    "task.timeout.ms": 300_000,
    "topology.optimization": "none",
    "upgrade.from": None,
    "window.size.ms": None,
    "windowstore.changelog.additional.retention.ms": 86_400_000,
    # streamnb's own: compile chains of stateless operators into one function (engine).
    "operator.fusion": True,
    # streamnb's own: how many records one consume() call may return.
    "streamnb.consume.batch.size": 5000,
    # streamnb's own: partition count of source/sink topics created on the embedded broker.
    "streamnb.embedded.topic.partitions": 1,
    # streamnb's own, interactive queries (streamnb.query): the REST server starts when
    # application.server (host:port, port 0 = any free port) is set, bound to this address;
    "streamnb.rest.bind.address": "127.0.0.1",
    # a bearer token every REST request must carry (None: no authentication);
    "streamnb.rest.auth.token": None,
    # the largest page a REST range query returns (larger limits are refused with a 400);
    "streamnb.rest.page.max": 1000,
    # the GIL switch interval (ms) while a REST connection is open (Python's default: 5);
    "streamnb.rest.switch.interval.ms": 0.5,
    # how long the group assignment used by query_metadata_for_key is cached.
    "streamnb.query.metadata.cache.ms": 1000,
}

# Client settings that go to every Kafka client (consumer, producer, admin).
_CLIENT_PREFIXES = ("security.", "sasl.", "ssl.", "socket.", "reconnect.", "retry.",
                    "metadata.", "request.", "connections.", "broker.", "api.", "client.",
                    "topic.metadata.", "enable.ssl.")
_CLIENT_KEYS = {"debug", "log_level", "statistics.interval.ms", "log.connection.close",
                "allow.auto.create.topics", "enable.sasl.oauthbearer.unsecure.jwt",
                "oauth_cb", "error_cb", "stats_cb", "throttle_cb", "logger"}
# Consumer-only and producer-only settings (librdkafka warns when a client gets the other's).
CONSUMER_KEYS = {"session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
                 "fetch.min.bytes", "fetch.max.bytes", "fetch.wait.max.ms",
                 "fetch.error.backoff.ms", "max.partition.fetch.bytes", "group.instance.id",
                 "partition.assignment.strategy", "queued.min.messages",
                 "queued.max.messages.kbytes", "check.crcs", "client.rack",
                 "auto.offset.reset", "group.protocol", "coordinator.query.interval.ms"}
PRODUCER_KEYS = {"linger.ms", "queue.buffering.max.ms", "batch.size", "batch.num.messages",
                 "compression.type", "compression.codec", "acks", "request.required.acks",
                 "queue.buffering.max.messages", "queue.buffering.max.kbytes",
                 "message.max.bytes", "message.timeout.ms", "delivery.timeout.ms",
                 "transaction.timeout.ms", "enable.idempotence", "max.in.flight",
                 "max.in.flight.requests.per.connection", "sticky.partitioning.linger.ms"}
# Prefixed overrides, as Kafka Streams allows (``consumer.``, ``main.consumer.``...).
CLIENT_PREFIXES = ("main.consumer.", "restore.consumer.", "global.consumer.", "consumer.",
                   "producer.", "admin.", "topic.")

_DESERIALIZATION_HANDLERS = {
    "logandcontinue": "logAndContinue",
    "logandcontinueexceptionhandler": "logAndContinue",
    "logandfail": "logAndFail",
    "logandfailexceptionhandler": "logAndFail",
    "continue": "logAndContinue",
    "fail": "logAndFail",
}
_PRODUCTION_HANDLERS = {
    "fail": "fail",
    "defaultproductionexceptionhandler": "fail",
    "continue": "continue",
    "alwayscontinueproductionexceptionhandler": "continue",
    "logandcontinue": "continue",
}


def _handler_name(value: Any, table: dict[str, str], key: str) -> Any:
    if callable(value):
        return value
    text = str(value).strip()
    short = text.rsplit(".", 1)[-1].rsplit("$", 1)[-1].lower()
    if short in table:
        return table[short]
    raise ConfigException(
        f"{key}={value!r} is not a known handler: use one of {sorted(set(table.values()))}, "
        "a Kafka class name such as org.apache.kafka.streams.errors.LogAndContinueExceptionHandler,"
        " or a Python callable"
    )


def _int(key: str, value: Any, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigException(f"{key} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigException(f"{key} must be at least {minimum}, got {number}")
    return number


def _switch_interval_ms(value: Any) -> float:
    """``streamnb.rest.switch.interval.ms``: milliseconds, above 0 (``sys.setswitchinterval``
    refuses 0) and at most 1000 (a larger one would only slow REST answers down)."""
    key = "streamnb.rest.switch.interval.ms"
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0 < number <= 1000:
        raise ConfigException(
            f"{key} must be a number of milliseconds above 0 and at most 1000, got "
            f"{value!r}: the GIL switch interval while a REST connection is open (0.5 by "
            "default; 5, Python's own, or more leaves the interval alone)")
    return number


def _check_application_server(value: Any) -> None:
    """``application.server`` is empty (no REST server) or ``host:port``."""
    if value in (None, ""):
        return
    text = str(value)
    host, sep, port = text.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or int(port) > 65535:
        raise ConfigException(
            f"application.server={value!r} must be 'host:port' (e.g. 'localhost:7070'; "
            "port 0 picks a free port): the address other instances and clients use to "
            "query this instance's state over REST")


class StreamsConfig(Mapping[str, Any]):
    """Validated Kafka Streams configuration; reads like a dict of the effective values.

    ``StreamsConfig({...})`` raises ``ConfigException`` for an unknown key (naming the closest
    valid one), a missing ``application.id`` or a bad value. Properties give typed access to
    what the runtime uses.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        if isinstance(config, StreamsConfig):
            config = config.originals
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict of Kafka Streams keys, got {type(config)}")
        self.originals: dict[str, Any] = {str(k): v for k, v in (config or {}).items()}
        self.client: dict[str, Any] = {}  # pass-through client settings
        self.prefixed: dict[str, dict[str, Any]] = {p: {} for p in CLIENT_PREFIXES}
        values = dict(STREAMS_DEFAULTS)
        for key, value in self.originals.items():
            if key in STREAMS_DEFAULTS:
                values[key] = value
            elif self._is_client_key(key):
                self.client[key] = value
            else:
                prefix = next((p for p in CLIENT_PREFIXES if key.startswith(p)), None)
                if prefix is None:
                    raise ConfigException(self._unknown_key_message(key))
                self.prefixed[prefix][key[len(prefix):]] = value
        self._values = values
        self._validate()

    # -- validation -------------------------------------------------------------------------
    @staticmethod
    def _is_client_key(key: str) -> bool:
        return (key in _CLIENT_KEYS or key in CONSUMER_KEYS or key in PRODUCER_KEYS
                or key.startswith(_CLIENT_PREFIXES))

    @staticmethod
    def _unknown_key_message(key: str) -> str:
        known = list(STREAMS_DEFAULTS) + sorted(CONSUMER_KEYS | PRODUCER_KEYS | _CLIENT_KEYS)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return (
            f"unknown config key {key!r}.{hint} Use Kafka Streams' key names (e.g. "
            "'commit.interval.ms', 'num.stream.threads'); client settings pass through as "
            "security.*/sasl.*/ssl.* or with a 'consumer.'/'producer.'/'admin.' prefix."
        )

    def _validate(self) -> None:
        v = self._values
        app_id = v["application.id"]
        if not app_id or not isinstance(app_id, str):
            raise ConfigException(
                "application.id is required: a name for the app, shared by all its instances "
                "(it names the consumer group and the internal topics), e.g. 'wordcount'"
            )
        bad = [c for c in app_id if not (c.isalnum() or c in "._-")]
        if bad:
            raise ConfigException(
                f"application.id {app_id!r} may only contain letters, digits, '.', '_' and '-' "
                f"(it becomes part of topic names); found {''.join(sorted(set(bad)))!r}"
            )
        guarantee = str(v["processing.guarantee"]).strip().lower().replace("-", "_")
        if guarantee == "exactly_once_beta":
            guarantee = EXACTLY_ONCE_V2
        if guarantee not in (AT_LEAST_ONCE, EXACTLY_ONCE_V2):
            raise ConfigException(
                f"processing.guarantee={v['processing.guarantee']!r}: use 'at_least_once' or "
                "'exactly_once_v2'"
            )
        v["processing.guarantee"] = guarantee
        if v["commit.interval.ms"] is None:
            v["commit.interval.ms"] = 100 if guarantee == EXACTLY_ONCE_V2 else 30_000
        v["commit.interval.ms"] = _int("commit.interval.ms", v["commit.interval.ms"], 0)
        v["num.stream.threads"] = _int("num.stream.threads", v["num.stream.threads"], 1)
        for key in ("buffered.records.per.partition", "poll.ms", "max.task.idle.ms",
                    "streamnb.rest.page.max", "streamnb.query.metadata.cache.ms",
                    "streamnb.consume.batch.size", "streamnb.embedded.topic.partitions",
                    "replication.factor", "cache.max.bytes.buffering",
                    "statestore.cache.max.bytes"):
            v[key] = _int(key, v[key])
        for key in ("default.key.serde", "default.value.serde"):
            try:
                v[key] = serde_from_config(v[key], key)
            except (ValueError, TypeError) as exc:
                raise ConfigException(str(exc)) from None
        handler = v["deserialization.exception.handler"] or v[
            "default.deserialization.exception.handler"]
        v["default.deserialization.exception.handler"] = _handler_name(
            handler, _DESERIALIZATION_HANDLERS, "default.deserialization.exception.handler")
        handler = v["production.exception.handler"] or v["default.production.exception.handler"]
        v["default.production.exception.handler"] = _handler_name(
            handler, _PRODUCTION_HANDLERS, "default.production.exception.handler")
        v["streamnb.rest.switch.interval.ms"] = _switch_interval_ms(
            v["streamnb.rest.switch.interval.ms"])
        _check_application_server(v["application.server"])
        servers = v["bootstrap.servers"]
        if isinstance(servers, (list, tuple)):
            servers = ",".join(str(s) for s in servers)
        if servers is not None and not str(servers).strip():
            servers = None
        v["bootstrap.servers"] = None if servers is None else str(servers).strip()
        if v["state.dir"] is not None:
            v["state.dir"] = Path(os.fspath(v["state.dir"])).expanduser()

    # -- mapping ----------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    # -- typed access -----------------------------------------------------------------------
    @property
    def application_id(self) -> str:
        return self._values["application.id"]

    @property
    def exactly_once(self) -> bool:
        return self._values["processing.guarantee"] == EXACTLY_ONCE_V2

    @property
    def default_key_serde(self) -> Serde:
        return self._values["default.key.serde"]

    @property
    def default_value_serde(self) -> Serde:
        return self._values["default.value.serde"]

    def engine_config(self) -> dict[str, Any]:
        """What tasks see through ``ProcessorContext.app_configs()``: the user's settings."""
        return dict(self.originals)

    def consumer_config(self, kind: str = "main") -> dict[str, Any]:
        """Pass-through settings for a consumer (``kind``: main, restore or global)."""
        conf = {k: v for k, v in self.client.items() if k not in PRODUCER_KEYS}
        conf.update(self.prefixed["consumer."])
        conf.update(self.prefixed[f"{kind}.consumer."])
        return conf

    def producer_config(self) -> dict[str, Any]:
        conf = {k: v for k, v in self.client.items() if k not in CONSUMER_KEYS}
        conf.update(self.prefixed["producer."])
        return conf

    def admin_config(self) -> dict[str, Any]:
        conf = {k: v for k, v in self.client.items()
                if k not in CONSUMER_KEYS and k not in PRODUCER_KEYS}
        conf.update(self.prefixed["admin."])
        return conf

    def topic_config(self) -> dict[str, str]:
        """``topic.*`` settings applied to the internal topics streamnb creates."""
        return {k: str(v) for k, v in self.prefixed["topic."].items()}

    def __repr__(self) -> str:
        return f"StreamsConfig({self.originals!r})"
