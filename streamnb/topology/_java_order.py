"""Java collection orders that Kafka's ``TopologyDescription`` text depends on.

Kafka fills each node's ``-->``/``<--`` sets (``TreeSet`` with a size comparator) while the
node sizes are still growing, iterating the nodes of a sub-topology in ``HashMap`` order.
A Java ``TreeSet`` never re-sorts, so the printed order is an artifact of that process; to
print what Kafka prints we replay it: Java's string hash, ``HashMap`` bucket order, and the
red-black tree insertions of ``java.util.TreeMap`` (rotations change which elements later
inserts compare against).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def java_string_hash(text: str) -> int:
    """``String.hashCode()`` as an unsigned 32-bit int (over UTF-16 code units)."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h


def java_hash_order(items: list[str]) -> list[str]:
    """Iteration order of a ``java.util.HashSet``/``HashMap`` filled with ``items`` in order."""
    unique = list(dict.fromkeys(items))
    capacity = 16
    while len(unique) > capacity * 0.75:
        capacity *= 2

    def bucket(text: str) -> int:
        h = java_string_hash(text)
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(unique, key=bucket)  # stable: insertion order inside a bucket


_RED, _BLACK = 0, 1


class _Entry:
    __slots__ = ("item", "left", "right", "parent", "color")

    def __init__(self, item: Any, parent: _Entry | None) -> None:
        self.item = item
        self.left: _Entry | None = None
        self.right: _Entry | None = None
        self.parent = parent
        self.color = _BLACK


def _color(e: _Entry | None) -> int:
    return _BLACK if e is None else e.color


def _parent(e: _Entry | None) -> _Entry | None:
    return None if e is None else e.parent


def _left(e: _Entry | None) -> _Entry | None:
    return None if e is None else e.left


def _right(e: _Entry | None) -> _Entry | None:
    return None if e is None else e.right


def _set_color(e: _Entry | None, color: int) -> None:
    if e is not None:
        e.color = color


class JavaTreeSet:
    """``java.util.TreeSet`` insertion (``TreeMap.put`` + ``fixAfterInsertion``).

    ``compare`` is evaluated at insertion time, against whatever the elements look like then.
    """

    def __init__(self, compare: Callable[[Any, Any], int]) -> None:
        self._compare = compare
        self._root: _Entry | None = None

    def add(self, item: Any) -> None:
        t = self._root
        if t is None:
            self._root = _Entry(item, None)
            return
        while True:
            c = self._compare(item, t.item)
            if c < 0:
                if t.left is None:
                    t.left = entry = _Entry(item, t)
                    break
                t = t.left
            elif c > 0:
                if t.right is None:
                    t.right = entry = _Entry(item, t)
                    break
                t = t.right
            else:
                return
        self._fix_after_insertion(entry)

    def items(self) -> list[Any]:
        out: list[Any] = []
        stack: list[_Entry] = []
        e = self._root
        while stack or e is not None:
            while e is not None:
                stack.append(e)
                e = e.left
            e = stack.pop()
            out.append(e.item)
            e = e.right
        return out

    def __len__(self) -> int:
        return len(self.items())

    def _rotate_left(self, p: _Entry | None) -> None:
        if p is None:
            return
        r = p.right
        assert r is not None
        p.right = r.left
        if r.left is not None:
            r.left.parent = p
        r.parent = p.parent
        if p.parent is None:
            self._root = r
        elif p.parent.left is p:
            p.parent.left = r
        else:
            p.parent.right = r
        r.left = p
        p.parent = r

    def _rotate_right(self, p: _Entry | None) -> None:
        if p is None:
            return
        q = p.left
        assert q is not None
        p.left = q.right
        if q.right is not None:
            q.right.parent = p
        q.parent = p.parent
        if p.parent is None:
            self._root = q
        elif p.parent.right is p:
            p.parent.right = q
        else:
            p.parent.left = q
        q.right = p
        p.parent = q

    def _fix_after_insertion(self, x: _Entry | None) -> None:
        assert x is not None
        x.color = _RED
        while x is not None and x is not self._root and x.parent is not None \
                and x.parent.color == _RED:
            if _parent(x) is _left(_parent(_parent(x))):
                y = _right(_parent(_parent(x)))
                if _color(y) == _RED:
                    _set_color(_parent(x), _BLACK)
                    _set_color(y, _BLACK)
                    _set_color(_parent(_parent(x)), _RED)
                    x = _parent(_parent(x))
                else:
                    if x is _right(_parent(x)):
                        x = _parent(x)
                        self._rotate_left(x)
                    _set_color(_parent(x), _BLACK)
                    _set_color(_parent(_parent(x)), _RED)
                    self._rotate_right(_parent(_parent(x)))
            else:
                y = _left(_parent(_parent(x)))
                if _color(y) == _RED:
                    _set_color(_parent(x), _BLACK)
                    _set_color(y, _BLACK)
                    _set_color(_parent(_parent(x)), _RED)
                    x = _parent(_parent(x))
                else:
                    if x is _left(_parent(x)):
                        x = _parent(x)
                        self._rotate_right(x)
                    _set_color(_parent(x), _BLACK)
                    _set_color(_parent(_parent(x)), _RED)
                    self._rotate_left(_parent(_parent(x)))
        assert self._root is not None
        self._root.color = _BLACK
