"""Foreign-key table joins: ``left.join(right, foreign_key_extractor, joiner)``.

Each left row points at a right row through ``foreign_key_extractor(left_value)``; the two
tables need not be co-partitioned. As in Kafka Streams, the join spans two sub-topologies
and two internal topics:

* the left side sends a subscription per change, keyed by the foreign key, to
  ``<app>-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic`` (co-partitioned with the right
  table, so each subscription reaches the task holding that right row);
* the right side stores the subscriptions, answers each one, and answers every subscriber
  again when a right row changes, on ``<app>-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic``
  (co-partitioned with the left table; each answer goes to its left row's partition);
* the left side joins an answer with the current left row, dropping answers to an older
  version of the row (the value hash differs), and emits the result table's update.

Node, store and topic names follow Kafka's ``KTableImpl.doJoinOnForeignKey``; the processors
are in ``_fk_nodes.py`` and the internal records and their serdes in ``_fk_wrappers.py``.
"""

from __future__ import annotations

from typing import Any

from ..errors import TopologyException
from ..state.builders import StoreBuilder, StoreSupplier
from ._fk_nodes import (
    ForeignTableJoinNode,
    PersistentSubscriptionStore,
    ResponseJoinNode,
    SubscriptionJoinNode,
    SubscriptionReceiveNode,
    SubscriptionSendNode,
    SubscriptionStore,
    response_partitioner,
)
from ._fk_wrappers import (
    CombinedKeySerde,
    DefaultKeySerde,
    StoredSubscriptionSerde,
    SubscriptionResponseWrapperSerde,
    SubscriptionWrapperSerde,
)
from ._functions import check_function
from ._stateful import TableInfo, TableSourceNode
from ._value_getters import value_getter_supplier
from .joins import ensure_copartitioned
from .ktable import KTable
from .options import as_materialized, named_name

TOPIC_SUFFIX = "-topic"
_REGISTRATION = "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-"
_RESPONSE = "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-"
_PROCESSOR = "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-"
_RESOLVER = "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-"
_STORE = "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-"
_OUTPUT = "KTABLE-FK-JOIN-OUTPUT-"
_SINK = "KTABLE-SINK-"
_SOURCE = "KTABLE-SOURCE-"


def _check(this: KTable, other: Any, extractor: Any, joiner: Any, left_join: bool) -> None:
    what = "left_join" if left_join else "join"
    if not isinstance(other, KTable):
        raise TypeError(f"a foreign-key {what} takes a KTable, got {type(other).__name__}")
    if other._graph is not this._graph:
        raise TopologyException("cannot join tables of two different StreamsBuilders")
    check_function(extractor, f"foreign-key {what} extractor", (1,), "(value)")
    check_function(joiner, f"foreign-key {what} joiner", (2,), "(value, other_value)")


def foreign_key_join(this: KTable, other: KTable, extractor: Any, joiner: Any, named: Any,
                     materialized: Any, left_join: bool) -> KTable:
    """Add the FK join's nodes, store and internal topics; return the result table."""
    _check(this, other, extractor, joiner, left_join)
    graph = this._graph
    user = named_name(named)
    mat = as_materialized(materialized)
    # Old values: the right side's avoid needless rescans in Kafka; the left side's tell
    # which foreign key to unsubscribe from. Both tables get their stores for the getters.
    other._enable_send_old_values(True)
    this._enable_send_old_values(True)
    left_getter = value_getter_supplier(this)
    right_getter = value_getter_supplier(other)
    left_key_serde, right_key_serde = this._key_serde, other._key_serde
    default_key = DefaultKeySerde(graph.config)
    subscription_serde = SubscriptionWrapperSerde(left_key_serde, default_key)
    response_serde = SubscriptionResponseWrapperSerde(other._value_serde)

    def name(suffix: str, prefix: str) -> str:
        return graph.suffixed(user, suffix, prefix)

    # Left side: subscriptions out.
    registration_topic = name("-subscription-registration", _REGISTRATION) + TOPIC_SUFFIX
    send = name("-subscription-registration-processor", _REGISTRATION)
    graph.add_processor(send, lambda: SubscriptionSendNode(
        extractor, left_join, this._value_serde, default_key), [this._node])
    registration_sink = name("-subscription-registration-sink", _SINK)
    graph.add_sink(registration_sink, registration_topic, [send], key_serde=right_key_serde,
                   value_serde=subscription_serde)

    # Right side: keep subscriptions, answer them and every right-row change.
    registration_source = name("-subscription-registration-source", _SOURCE)
    graph.add_source(registration_source, [registration_topic], right_key_serde,
                     subscription_serde)
    graph.topology.mark_internal_topic(registration_topic)
    ensure_copartitioned(graph, other._node, registration_source)
    store = name("-subscription-store", _STORE)
    receive = name("-subscription-receive", _PROCESSOR)
    graph.add_processor(receive, lambda: SubscriptionReceiveNode(store, default_key),
                        [registration_source])
    # Kafka's subscription store follows the DSL store type (default.dsl.store); both kinds
    # are change-logged and restored from the changelog.
    store_class = PersistentSubscriptionStore if graph.default_persistent else SubscriptionStore
    builder = StoreBuilder(
        StoreSupplier(store, "key_value", lambda: store_class(store),
                      persistent=graph.default_persistent),
        key_serde=CombinedKeySerde(right_key_serde, left_key_serde),
        value_serde=StoredSubscriptionSerde(), timestamped=True)
    builder.with_caching_disabled()
    graph.add_store(builder, receive)
    join = name("-subscription-join-foreign", _PROCESSOR)
    graph.add_processor(join, lambda: SubscriptionJoinNode(right_getter), [receive],
                        right_getter.store_names)
    foreign = name("-foreign-join-subscription", _PROCESSOR)
    graph.add_processor(foreign, lambda: ForeignTableJoinNode(store), [other._node], [store])
    response_topic = name("-subscription-response", _RESPONSE) + TOPIC_SUFFIX
    response_sink = name("-subscription-response-sink", _SINK)
    graph.add_sink(response_sink, response_topic, [join, foreign], key_serde=left_key_serde,
                   value_serde=response_serde, partitioner=response_partitioner)

    # Left side: answers in, resolved against the current left row.
    response_source = name("-subscription-response-source", _SOURCE)
    graph.add_source(response_source, [response_topic], left_key_serde, response_serde)
    graph.topology.mark_internal_topic(response_topic)
    resolver = name("-subscription-response-resolver", _RESOLVER)
    graph.add_processor(resolver, lambda: ResponseJoinNode(
        left_getter, this._value_serde, joiner, left_join), [response_source],
        left_getter.store_names)
    ensure_copartitioned(graph, this._node, response_source)

    output = name("-result", _OUTPUT)
    store_name, queryable = graph.store_name(mat, _OUTPUT)
    info = TableInfo(None)
    graph.add_processor(output, lambda: TableSourceNode(info), [resolver])
    value_serde = mat.value_serde if mat is not None else None
    result = KTable(graph, output, info, key_serde=left_key_serde, value_serde=value_serde)
    # Like Kafka's KTableSource: a store only when named, or when a later operator needs it.
    result._lazy_store = (store_name, mat, output)
    if queryable or (mat is not None and mat.supplier is not None):
        result._materialize()
    return result
