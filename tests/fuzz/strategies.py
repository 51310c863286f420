"""Hypothesis strategies for hostile websocket frames: random JSON, protocol-shaped messages with wrong
types, huge strings, path-like ids and binary junk."""

from __future__ import annotations

import json

from hypothesis import strategies as st

PATH_LIKE = st.sampled_from(
    ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/shadow", "%2e%2e%2fetc%2fpasswd", "\x00", "a/../../b"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | PATH_LIKE
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
HUGE = st.sampled_from([10_000, 70_000, 300_000]).map(lambda n: "x" * n)


def protocol_messages(types: list[str], fields: list[str]) -> st.SearchStrategy[dict]:
    """Messages that look like the protocol (known types and field names) with values of any type."""
    return st.fixed_dictionaries(
        {
            "type": st.sampled_from([*types, "", "CHAT", "__proto__"]) | JSON_VALUES,
            "req_id": st.sampled_from(["r1", 7, "", 0]) | JSON_VALUES | HUGE,
        },
        optional={name: JSON_VALUES | HUGE | PATH_LIKE for name in fields},
    )


def frames(types: list[str], fields: list[str]) -> st.SearchStrategy[tuple[str, str | bytes]]:
    """One websocket frame: ("text", str) or ("bytes", bytes)."""
    as_json = (protocol_messages(types, fields) | JSON_VALUES).map(
        lambda value: ("text", json.dumps(value, allow_nan=True))
    )
    raw_text = (st.text(min_size=1, max_size=300) | HUGE | st.just("{") | st.just("null")).map(lambda s: ("text", s))
    binary = (st.binary(min_size=1, max_size=4000) | st.sampled_from([b"\x00", b"\xff" * 70001])).map(
        lambda b: ("bytes", b)
    )
    return st.one_of(as_json, as_json, raw_text, binary)
