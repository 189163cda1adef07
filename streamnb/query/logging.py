"""Structured logs for streamnb apps: app id, thread, task and, for errors, the record's
topic/partition/offset - as text or as JSON lines for log shippers.

``configure_logging(json_lines=True)`` installs one handler on the ``streamnb`` logger. The
context comes from the logging thread (a stream thread knows its app) and, for errors, from
the failing task's context found in the traceback, so nothing is added to the hot path.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from types import TracebackType
from typing import IO, Any

from ..engine.context import TaskContext

_FIELDS = ("app_id", "threadName", "task_id", "topic", "partition", "offset")


def _failing_context(tb: TracebackType | None) -> TaskContext | None:
    """The innermost TaskContext among the traceback's frames (the task that failed)."""
    found = None
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, TaskContext):
                found = value
                break
            ctx = getattr(value, "ctx", None)
            if isinstance(ctx, TaskContext):
                found = ctx
                break
        tb = tb.tb_next
    return found


class StreamsContextFilter(logging.Filter):
    """Adds ``app_id``, ``thread``, ``task_id`` and (errors) ``topic``/``partition``/
    ``offset`` attributes to every record (None where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = threading.current_thread()
        client = getattr(current, "client", None)
        if getattr(record, "app_id", None) is None:
            record.app_id = getattr(client, "application_id", None)
        if not hasattr(record, "task_id"):
            record.task_id = None
        for name in ("topic", "partition", "offset"):
            if not hasattr(record, name):
                setattr(record, name, None)
        if record.levelno >= logging.ERROR and record.exc_info and record.topic is None:
            ctx = _failing_context(record.exc_info[2])
            if ctx is not None:
                record.task_id = record.task_id or ctx.task_id
                record.topic, record.partition, record.offset = (ctx.topic, ctx.partition,
                                                                 ctx.offset)
                if record.app_id is None:
                    record.app_id = ctx.app_id
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                  + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out["thread" if name == "threadName" else name] = value
        processor = getattr(record, "processor", None)
        if processor is not None:
            out["processor"] = processor
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class ContextTextFormatter(logging.Formatter):
    """Plain text with the context in brackets: ``[app=wc task=0_1 topic=in/0@42]``."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        parts = []
        if getattr(record, "app_id", None):
            parts.append(f"app={record.app_id}")
        if getattr(record, "task_id", None):
            parts.append(f"task={record.task_id}")
        if getattr(record, "topic", None) is not None:
            parts.append(f"record={record.topic}/{record.partition}@{record.offset}")
        return f"{text} [{' '.join(parts)}]" if parts else text


def configure_logging(json_lines: bool = False, level: int | str = logging.INFO,
                      stream: IO[str] | None = None, logger: str = "streamnb"
                      ) -> logging.Handler:
    """Send ``logger``'s records to ``stream`` (stderr) with context; returns the handler
    (remove it with ``logging.getLogger(logger).removeHandler(handler)``)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(StreamsContextFilter())
    handler.setFormatter(JsonLinesFormatter() if json_lines else ContextTextFormatter(
        "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(level)
    return handler
