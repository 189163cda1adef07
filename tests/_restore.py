"""Restart a TopologyTestDriver's stores from the changelog records another driver sent.

Usage from any test folder::

    from tests._restore import changelogs, restore_stores

    logs = changelogs(first_driver)          # what a broker would keep, as bytes
    restore_stores(second_driver, logs)      # as the runtime's restore applies them

The restore decodes each record with the store's changelog serdes and hands it to the
runtime's own ``_apply``, so a test exercises the code that restores a real app.
"""

from __future__ import annotations

from typing import Any

from streamnb.runtime.restore import RestoreTarget, _apply


def changelogs(driver: Any) -> dict[str, list[tuple[bytes, bytes, int]]]:
    """The changelog records ``driver`` sent, as ``(key bytes, value bytes, timestamp)``."""
    return {topic: [(o.key_bytes, o.value_bytes, o.timestamp) for o in queue]
            for topic, queue in driver._outputs.items() if topic.endswith("-changelog")}


def restore_stores(driver: Any, logs: dict[str, list[tuple[bytes, bytes, int]]]) -> None:
    """Rebuild every change-logged store of ``driver``'s task from ``logs``."""
    for name, store in driver._task.stores.items():
        topic = store.changelog_topic
        if not topic:
            continue
        builder = driver.topology.stores[name]
        key_serde = driver._resolve(builder.key_serde, driver._default_key_serde)
        value_serde = driver._resolve(builder.value_serde, driver._default_value_serde)
        target = RestoreTarget(store, topic, 0, None, None, store.timestamped)
        for key_bytes, value_bytes, ts in logs.get(topic, []):
            _apply(target, key_serde.deserialize(topic, key_bytes),
                   value_serde.deserialize(topic, value_bytes), ts)
