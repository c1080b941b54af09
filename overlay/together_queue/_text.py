"""Characters that must not reach a terminal or a file name from another party's text."""

from __future__ import annotations

import re
from typing import Final

CONTROL_CHARACTERS: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
"""C0 and C1 controls, DEL, line and paragraph separators, and bidirectional-text controls:
each can move the cursor, retitle the window, hide text or reorder what a reader sees."""


def escape_controls(text: str) -> str:
    r"""`text` with each of `CONTROL_CHARACTERS` written as an escape (`\x1b`, `\u202e`)."""
    return CONTROL_CHARACTERS.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
