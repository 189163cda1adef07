"""Checkpoint rules without a broker: Kafka's 10,000-record threshold, exactly-once
deletion at start, which local data is kept or wiped, and the persistent window / session
stores' checkpoints (written after their segments)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from streamnb.runtime.checkpoints import (
    OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT,
    TaskCheckpoints,
    start_offsets,
)
from streamnb.state.persistent import PersistentKeyValueStore
from streamnb.state.session import PersistentSessionStore
from streamnb.state.window import PersistentWindowStore

TP = ("app-s-changelog", 0)


def _task(tmp_path, store):
    store.init(tmp_path / "0_0" / store.name)
    store.changelog_topic = TP[0]
    return SimpleNamespace(task_id="0_0", partition=0, stores={store.name: store})


def test_commit_checkpoints_only_past_the_threshold_and_close_always(tmp_path):
    store = PersistentKeyValueStore("s")
    checkpoints = TaskCheckpoints(_task(tmp_path, store), eos=False, source_topics=["in"])
    checkpoints.started({TP: None})
    checkpoints.restored({TP: 5})  # at-least-once: checkpointed right after restoring
    assert store.read_checkpoint() == {TP: 5}
    store.put("a", 1)
    within = {TP: 5 + OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT}
    assert not checkpoints.needed(within, enforce=False)  # Kafka: strictly more than 10,000
    assert checkpoints.needed(within, enforce=True)
    past = {TP: 6 + OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT}
    assert checkpoints.needed(past, enforce=False)
    checkpoints.write(past)
    assert store.read_checkpoint() == {TP: past[TP]}
    store.close()
    again = PersistentKeyValueStore("s")
    again.init(tmp_path / "0_0" / "s")
    assert again.get("a") == 1  # the data the checkpoint vouches for was flushed first
    again.close()


def test_exactly_once_deletes_the_checkpoint_at_start_and_not_after_restoring(tmp_path):
    store = PersistentKeyValueStore("s")
    store.init(tmp_path / "0_0" / "s")
    store.checkpoint({TP: 9})
    store.close()
    store = PersistentKeyValueStore("s")
    checkpoints = TaskCheckpoints(_task(tmp_path, store), eos=True, source_topics=[])
    assert store.read_checkpoint() == {TP: 9}
    checkpoints.started({TP: 9})
    assert store.read_checkpoint() is None
    checkpoints.restored({TP: 12})
    assert store.read_checkpoint() is None
    checkpoints.write({TP: 12})  # a clean close
    assert store.read_checkpoint() == {TP: 12}
    store.close()


def test_local_data_is_kept_only_with_a_checkpoint_for_its_changelog_partition(tmp_path):
    task_dir = tmp_path / "0_1"
    changelogs = {"good": "app-good-changelog", "none": "app-none-changelog",
                  "garbled": "app-garbled-changelog", "other": "app-other-changelog",
                  "source": "in"}
    for name, topic in changelogs.items():
        store = PersistentKeyValueStore(name)
        store.init(task_dir / name)
        store.put("k", 1)
        if name in ("good", "source"):
            store.checkpoint({(topic, 1): 40})
        elif name == "other":
            store.checkpoint({(topic, 0): 40})
        store.close()
    (task_dir / "garbled" / "checkpoint.json").write_text("{")
    starts = start_offsets(task_dir, changelogs, 1, ["in"])
    assert starts == {"good": 40, "none": None, "garbled": None, "other": None, "source": None}
    assert sorted(p.name for p in task_dir.iterdir()) == ["good"]  # the rest was wiped


def test_window_and_session_stores_checkpoint_after_their_segments(tmp_path):
    for store in (PersistentWindowStore("w", retention_ms=600_000, window_size_ms=60_000),
                  PersistentSessionStore("s", retention_ms=600_000)):
        directory = tmp_path / store.name
        store.init(directory)
        assert store.read_checkpoint() is None
        store.checkpoint({TP: 3})
        assert store.read_checkpoint() is None  # pending until the next flush
        store.flush()
        assert store.read_checkpoint() == {TP: 3}
        assert json.loads((directory / "checkpoint.json").read_text())["store"] == store.name
        store.clear_checkpoint()
        assert store.read_checkpoint() is None
        store.checkpoint({TP: 4})
        store.close()  # a close flushes, so it writes a pending checkpoint too
        assert (directory / "checkpoint.json").is_file()
