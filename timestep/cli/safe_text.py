"""Stored text as the terminal shows it: literally, whole, and unable to act on the terminal.

Tool arguments, outputs, ids, agent names and errors come from models and users. Read as Rich markup,
``[conceal]`` hides what follows it (an approver then approves arguments they never saw) and ``[/]``
crashes the command; written raw, ESC sequences, C1 codes and bidi overrides rewrite, recolour, link or
reorder what is on screen. So every stored value is shown through ``shown`` (a ``rich.text.Text``, never
markup) with each such character written as its Python escape (``\\x1b``, ``\\u202e``) in reverse video,
and ``json_text`` does the same for ``--json`` with JSON's own ``\\uXXXX`` escapes, keeping the value exact.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

#: The style of an escaped character, so that it differs from the same escape typed as text.
ESCAPE_STYLE = "reverse"
#: Controls, invisible formatting (bidi overrides and isolates, zero-width characters), line and paragraph
#: separators, and lone surrogates (which cannot even be encoded for output).
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def _unsafe(char: str, keep: str) -> bool:
    return char not in keep and unicodedata.category(char) in _UNSAFE


def escape(char: str) -> str:
    """Python's escape of one character: ``\\x1b``, ``\\u202e``, ``\\U000e0001``."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escaped(text: str, *, keep: str = "\n\t") -> str:
    """``text`` with every unsafe character but those in ``keep`` escaped: for plain ``print``."""
    if text.isprintable():  # the common case, and false for every unsafe character
        return text
    return "".join(escape(c) if _unsafe(c, keep) else c for c in text)


def shown(*parts: str | tuple[str, str], keep: str = "\n\t") -> Text:
    """The parts (text, or (text, style)) as one ``Text``: no markup, unsafe characters escaped and marked."""
    from rich.text import Text

    result = Text()
    for part in parts:
        text, style = (part, "") if isinstance(part, str) else part
        if text.isprintable():
            result.append(text, style)
            continue
        start = 0
        for index, char in enumerate(text):
            if _unsafe(char, keep):
                result.append(text[start:index], style)
                result.append(escape(char), f"{style} {ESCAPE_STYLE}".strip())
                start = index + 1
        result.append(text[start:], style)
    return result


def json_text(text: str) -> str:
    """JSON text with unsafe characters in its strings as ``\\uXXXX`` escapes: the same value, safe to print.

    Outside strings JSON has only ASCII; the whitespace between tokens (newline, CR, tab) is kept.
    """
    if text.isprintable():
        return text
    return "".join(_json_escape(c) if _unsafe(c, "\n\r\t") else c for c in text)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON escapes a character beyond the BMP as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
