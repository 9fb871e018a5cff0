"""Hypothesis strategies shared by the hostile-input tests of the WebSocket proxy."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from realtime.conf import CLIENT_EVENT_TYPES


def json_values(text: st.SearchStrategy[str] | None = None) -> st.SearchStrategy:
    """JSON values of every kind, nested a few levels, with ``text`` as their strings."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | (text if text is not None else st.text(max_size=20)),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=12,
    )


def client_events(values: st.SearchStrategy, **fields: st.SearchStrategy) -> st.SearchStrategy:
    """Client events as frames: a real or unknown type, with any value in the fields that
    carry structure, and ``fields`` besides."""
    return st.fixed_dictionaries(
        {"type": st.sampled_from([*CLIENT_EVENT_TYPES, "session.delete", "", "error"])},
        optional={
            "event_id": values,
            "session": values,
            "response": values,
            "item": values,
            "audio": st.text(max_size=50),
            **fields,
        },
    ).map(json.dumps)
