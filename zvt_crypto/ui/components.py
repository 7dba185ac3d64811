"""Small building blocks of the pages: tables, notes, UTC times, and the guard that turns a failing callback into a
message in the page (logged with its traceback) instead of a blank area or a spinner that never ends.

Everything renders through Dash's html components, which escape text: a store name can never run as code."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ParamSpec

from dash import dcc, html

from zvt_crypto.contract.redaction import redact_text
from zvt_crypto.contract.timeutil import to_datetime, to_ms

logger = logging.getLogger("zvt_crypto.ui")
P = ParamSpec("P")
Cell = Any  # text, a number or a Dash component
RED, AMBER, GREEN, GREY = "#b00020", "#a15c00", "#1b7f3b", "#666"
TEMPLATE = "plotly_white"  # every page's charts look alike


@functools.cache
def _template() -> dict[str, Any]:
    import plotly.io as pio

    return pio.templates[TEMPLATE].to_plotly_json()


def make_figure(traces: Sequence[dict[str, Any]], layout: dict[str, Any]) -> Any:
    """A plotly figure of plain trace and layout dicts, in the pages' template, built without plotly's per-property
    validation: on a run's page that validation cost ≈ 0.25 s per request (markers with their tooltips), for the
    same JSON. Each trace names its ``type``; the browser's plotly.js checks what it draws."""
    import plotly.graph_objects as go

    return go.Figure(data=list(traces), layout={"template": _template(), **layout}, _validate=False)


def utc(value: datetime | str | int | None) -> str:
    """``2024-01-08 00:05:00`` (the column header says UTC), or ``-``."""
    if value is None or value == "":
        return "-"
    return to_datetime(to_ms(value)).strftime("%Y-%m-%d %H:%M:%S")


def table(columns: Sequence[str], rows: Sequence[Sequence[Cell]], table_id: str, empty: str) -> html.Div:
    """A plain HTML table (``empty`` shown instead when there are no rows)."""
    if not rows:
        return html.Div(html.P(empty, className="empty"), id=table_id)
    return html.Div(html.Table([
        html.Thead(html.Tr([html.Th(column) for column in columns])),
        html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
    ], className="grid"), id=table_id)


def coloured(text: str, colour: str, title: str | None = None) -> html.Span:
    return html.Span(text, style={"color": colour, "fontWeight": 600 if colour in (RED, AMBER) else None},
                     title=title)


def command(text: str) -> html.Pre:
    return html.Pre(html.Code(text), className="command")


def note(children: Any, kind: str = "info", note_id: str | None = None) -> html.Div:
    """A boxed message; ``kind`` is ``info``, ``warning`` or ``error`` (the class the style sheet colours)."""
    props: dict[str, Any] = {"className": f"note note-{kind}", "role": "alert" if kind == "error" else "status"}
    if note_id:
        props["id"] = note_id
    return html.Div(children, **props)


def failure_message(exc: BaseException, what: str) -> html.Div:
    """What a failing part of a page shows: what failed, the one-line reason (secrets redacted), where to look."""
    reason = redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    return note([html.Strong(f"Could not show {what}: "), f"{reason}. ",
                 html.Span("The server log has the traceback.", className="hint")], kind="error",
                note_id="page-error")


def guarded(what: str) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Decorate a callback (or page layout) that returns page content: an exception is logged with its traceback
    and the content becomes :func:`failure_message`, so the user sees why instead of an empty page."""

    def decorate(render: Callable[P, Any]) -> Callable[P, Any]:
        @functools.wraps(render)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                return render(*args, **kwargs)
            except Exception as exc:  # every failure: shown in the page, logged with its traceback
                logger.exception("dashboard: %s failed", what)
                return failure_message(exc, what)

        return wrapper

    return decorate


def refresh_timer(timer_id: str, seconds: float) -> dcc.Interval:
    return dcc.Interval(id=timer_id, interval=int(seconds * 1000), n_intervals=0)


def age(seconds: float | None) -> str:
    """``42s``, ``5.0m``, ``3.2h``, ``1.5d`` (``no data`` for None)."""
    from zvt_crypto.schedule.status import format_age

    return format_age(seconds)
