"""Query cursors are encoded with orjson on the hot path; a cursor issued before that
change and one issued after must name a position with the same text."""

import base64
import json

import pytest

from adapters.items.cursors import decode_cursor, encode_cursor

POSITIONS = [
    ["SRCH#P#F#OWNER#ab12#report", "000123#f00d"],
    ["".join(chr(code) for code in range(1, 128)), "x"],  # controls, quotes, DEL
    ["é\u2028x", "\U0001f600"],
]


def _as_json_made_it(position: list[str]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("position", POSITIONS)
def test_cursor_text_is_what_json_made(position: list[str]) -> None:
    assert encode_cursor(position) == _as_json_made_it(position)
    assert decode_cursor(encode_cursor(position), parts=2) == position
