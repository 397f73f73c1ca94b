"""Untrusted text made safe for one line of a report or a terminal: the one escaping every sink uses.

What is escaped: control characters (a newline ends a Slack line or a text report's line; an escape
sequence moves the cursor, retitles the window, clears the screen), the line and paragraph separators,
bidirectional overrides and isolates (they reorder what a reader sees: `\\u202egnp.exe` shows as
`exe.png`), and bytes that were not UTF-8 (read with surrogateescape). They are shown as `ls -b` shows
them: `\\n`, `\\t`, `\\r`, `\\xNN`, `\\uNNNN`.
"""

from __future__ import annotations

import re

_UNSAFE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff"
_WITH_BACKSLASH = re.compile(rf"[\\{_UNSAFE}]")
_WITHOUT_BACKSLASH = re.compile(rf"[{_UNSAFE}]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, escape_backslash: bool = True) -> str:
    """`text` with the characters that would garble a report escaped (see the module's docstring).

    By default the backslash is escaped too, so that two different names (of files, of layers) never
    print the same. `escape_backslash=False` is for text that quotes a Dockerfile, where a backslash is
    the line continuation or the escape a user wrote and recognises: doubled, the quote would no longer
    read as their file. Such a quote is not injective (a literal `\\n` in the file prints as an escaped
    newline does), which is fine for a message a person reads.
    """
    pattern = _WITH_BACKSLASH if escape_backslash else _WITHOUT_BACKSLASH
    return pattern.sub(_escape, text) if pattern.search(text) else text


# One character, or one escape `printable` writes (`\\`, `\n`, `\xNN`, `\uNNNN`): a cut between two units
# never leaves half an escape (`\x1`), which would read as a different character or a broken one.
_UNIT = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|.)|.", re.DOTALL)


def clip(text: str, limit: int, *, marker: str = "...") -> str:
    """`text` if it fits in `limit` characters, else its head and `marker`, `limit` characters at most,
    cut between two characters or escapes (never inside `\\xNN`). The one cut of every sink."""
    if len(text) <= limit:
        return text
    room = limit - len(marker)
    end = 0
    for unit in _UNIT.finditer(text):
        if unit.end() > room:
            break
        end = unit.end()
    return text[:end] + marker
