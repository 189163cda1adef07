"""A layered (Sugiyama-style) layout for topology drawings, in pure Python.

Why our own: graphviz is not installable everywhere a notebook runs (Binder, classrooms), and a
topology is small (tens to a few hundred nodes), so a simple layered layout is fast enough:
longest-path layering, barycentre ordering, then grid coordinates that keep chains straight.
Nodes carry a *band* (their sub-topology): each band gets its own columns, so the boxes drawn
around sub-topologies never overlap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["LayoutNode", "Layout", "layout"]

_SWEEPS = 6


@dataclass(eq=False)
class LayoutNode:
    """One box to place. ``side_of`` names nodes a store hangs beside (not layered itself)."""

    id: str
    band: int
    width: float
    side_of: list[str] = field(default_factory=list)
    layer: int = 0
    col: float = 0.0
    x: float = 0.0
    y: float = 0.0


@dataclass
class Layout:
    nodes: dict[str, LayoutNode]
    edges: list[tuple[str, str]]
    back_edges: set[tuple[str, str]]
    band_x: dict[int, tuple[float, float]]  # band -> (left, right)
    width: float
    height: float


def _acyclic(ids: list[str], succ: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges to ignore for layering so that the rest is a DAG (DFS back edges)."""
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in ids:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return back


def _topo_order(ids: list[str], succ: dict[str, list[str]], pred: dict[str, list[str]]
                ) -> list[str]:
    indeg = {n: len(pred[n]) for n in ids}
    ready = [n for n in ids if indeg[n] == 0]
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in succ[node]:
            indeg[child] -= 1
            if indeg[child] == 0:
                ready.append(child)
    return order


def _assign_layers(ids: list[str], succ: dict[str, list[str]], pred: dict[str, list[str]],
                   nodes: dict[str, LayoutNode]) -> None:
    order = _topo_order(ids, succ, pred)
    for node in order:  # longest path from the roots
        nodes[node].layer = max((nodes[p].layer + 1 for p in pred[node]), default=0)
    # Chains fed only by roots (an input topic, its source, ...) slide down next to the node
    # they feed (a join, a merge), instead of all starting at the top with long edges.
    floating: set[str] = set()
    for node in order:
        if all(p in floating for p in pred[node]):
            floating.add(node)
    for node in reversed(order):
        if node in floating and succ[node]:
            nodes[node].layer = min(nodes[c].layer for c in succ[node]) - 1


def _order_layers(rows: dict[tuple[int, int], list[str]], pred: dict[str, list[str]],
                  succ: dict[str, list[str]], pos: dict[str, float]) -> None:
    """Barycentre sweeps: each row sorted by the mean position of its neighbours."""
    keys = sorted(rows, key=lambda k: (k[1], k[0]))

    def sweep(row_keys: list[tuple[int, int]], neighbours: dict[str, list[str]]) -> None:
        for key in row_keys:
            row = rows[key]
            bary = {}
            for index, node in enumerate(row):
                ns = [pos[n] for n in neighbours[node] if n in pos]
                bary[node] = sum(ns) / len(ns) if ns else pos.get(node, index)
            row.sort(key=lambda n: bary[n])
            for index, node in enumerate(row):
                pos[node] = index

    for _ in range(_SWEEPS // 2):
        sweep(keys, pred)
        sweep(list(reversed(keys)), succ)
    sweep(keys, pred)


def _columns(band_rows: dict[int, list[str]], layers: list[int], pred: dict[str, list[str]],
             succ: dict[str, list[str]], nodes: dict[str, LayoutNode]) -> None:
    """Grid columns inside one band: a node sits under the mean of its parents (chains stay
    straight), never closer than one column to its left neighbour."""

    def place(row: list[str], neighbours: dict[str, list[str]], placed: set[str]) -> None:
        last = None
        wanted = []
        for node in row:
            ns = [nodes[n].col for n in neighbours[node] if n in placed]
            wanted.append(sum(ns) / len(ns) if ns else None)
        for node, want in zip(row, wanted):
            col = want if want is not None else (nodes[node].col if node in placed else 0.0)
            if last is not None and col < last + 1:
                col = last + 1
            nodes[node].col = col
            last = col
        # Pull a row that was pushed right back towards its wanted spots (centre it).
        shift = [w - nodes[n].col for n, w in zip(row, wanted) if w is not None]
        if shift:
            delta = sum(shift) / len(shift)
            if delta < 0:
                for node in row:
                    nodes[node].col += delta

    placed: set[str] = set()
    for layer in layers:
        row = band_rows.get(layer, [])
        place(row, pred, placed)
        placed.update(row)
    for layer in reversed(layers):  # align roots (input topics, sources) over their children
        row = band_rows.get(layer, [])
        if row and all(not any(p in placed for p in pred[n]) for n in row):
            place(row, succ, placed)
    lowest = min((nodes[n].col for r in band_rows.values() for n in r), default=0.0)
    for row in band_rows.values():
        for node in row:
            nodes[node].col -= lowest


def layout(nodes: list[LayoutNode], edges: list[tuple[str, str]], *, row_height: float = 78.0,
           col_gap: float = 28.0, band_gap: float = 56.0, margin: float = 24.0) -> Layout:
    """Place ``nodes`` (in insertion order, which seeds the ordering) joined by ``edges``."""
    by_id = {n.id: n for n in nodes}
    main = [n.id for n in nodes if not n.side_of]
    succ: dict[str, list[str]] = {n: [] for n in main}
    pred: dict[str, list[str]] = {n: [] for n in main}
    layered_edges = [(u, v) for u, v in edges if u in succ and v in succ and u != v]
    for u, v in layered_edges:
        succ[u].append(v)
    back = _acyclic(main, succ)
    succ = {n: [] for n in main}
    for u, v in layered_edges:
        if (u, v) not in back:
            succ[u].append(v)
            pred[v].append(u)
    _assign_layers(main, succ, pred, by_id)

    # Side nodes (stores) share the row of the first node they hang beside.
    side_pred: dict[str, list[str]] = {}
    for node in nodes:
        if node.side_of:
            anchors = [a for a in node.side_of if a in by_id]
            node.layer = by_id[anchors[0]].layer if anchors else 0
            side_pred[node.id] = anchors
    all_pred = {**pred, **side_pred}
    all_succ = {n.id: list(succ.get(n.id, [])) for n in nodes}
    for store, anchors in side_pred.items():
        for anchor in anchors:
            all_succ[anchor].append(store)

    rows: dict[tuple[int, int], list[str]] = defaultdict(list)
    for node in nodes:
        rows[(node.band, node.layer)].append(node.id)
    pos: dict[str, float] = {}
    for row in rows.values():
        for index, node_id in enumerate(row):
            pos[node_id] = index
    # Stores start just right of their processor.
    ordering_pred = dict(pred)
    for store, anchors in side_pred.items():
        ordering_pred[store] = anchors
        pos[store] = (sum(pos[a] for a in anchors) / len(anchors) + 0.5) if anchors else 0
    _order_layers(rows, ordering_pred, all_succ, pos)
    for key, row in rows.items():  # a store sits right after the node it serves in its row
        stores = [n for n in row if n in side_pred]
        if not stores:
            continue
        ordered = [n for n in row if n not in side_pred]
        for store in stores:
            anchors = [a for a in side_pred[store] if a in ordered]
            at = max(ordered.index(a) for a in anchors) + 1 if anchors else len(ordered)
            while at < len(ordered) and ordered[at] in side_pred:
                at += 1
            ordered.insert(at, store)
        rows[key] = ordered

    layers = sorted({n.layer for n in nodes})
    top = layers[0] if layers else 0
    band_x: dict[int, tuple[float, float]] = {}
    left = margin
    for band in sorted({n.band for n in nodes}):
        band_rows = {layer: row for (b, layer), row in rows.items() if b == band}
        _columns(band_rows, layers, all_pred, all_succ, by_id)
        members = [by_id[n] for row in band_rows.values() for n in row]
        col_width = max(n.width for n in members) + col_gap
        span = max(n.col for n in members) + 1
        for node in members:
            node.x = left + node.col * col_width + col_width / 2
        band_x[band] = (left, left + span * col_width)
        left += span * col_width + band_gap
    for node in nodes:
        node.y = margin + 36 + (node.layer - top) * row_height
    rows_used = (layers[-1] - top) if layers else 0
    height = margin * 2 + 36 + rows_used * row_height + row_height / 2
    width = left - band_gap + margin
    return Layout(by_id, list(edges), back, band_x, max(width, 2 * margin), height)
