"""Reading Dash component trees in tests: every text in a tree, and a component by id."""

from __future__ import annotations

from typing import Any


def children(component: Any) -> list[Any]:
    if isinstance(component, (list, tuple)):
        return list(component)
    kids = getattr(component, "children", None)
    if kids is None:
        return []
    return list(kids) if isinstance(kids, (list, tuple)) else [kids]


def text_of(component: Any) -> str:
    """All text in the tree, as the browser would run it together."""
    if isinstance(component, (str, int, float)):
        return str(component)
    return "".join(text_of(child) for child in children(component))


def find(component: Any, component_id: str) -> Any:
    """The component with ``id`` ``component_id`` in the tree (AssertionError if absent)."""
    stack = [component]
    while stack:
        node = stack.pop()
        if getattr(node, "id", None) == component_id:
            return node
        stack.extend(child for child in children(node) if not isinstance(child, (str, int, float)))
    raise AssertionError(f"no component with id {component_id!r}")


def table_rows(component: Any, table_id: str) -> list[list[str]]:
    """The body rows of the table with ``table_id`` as lists of cell texts ([] when it shows its empty text)."""
    holder = find(component, table_id)
    rows: list[list[str]] = []
    stack = [holder]
    while stack:
        node = stack.pop(0)
        if type(node).__name__ == "Tbody":
            return [[text_of(cell) for cell in children(row)] for row in children(node)]
        stack.extend(child for child in children(node) if not isinstance(child, (str, int, float)))
    return rows
