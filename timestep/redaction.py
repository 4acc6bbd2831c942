"""Passwords in URLs, hidden wherever timestep stores, raises or prints an error.

A model provider's error names its base URL, and a base URL may carry credentials
(``OLLAMA_HOST=http://admin:pw@host``); so may a tool's error (a database URL, say). ``redact`` replaces the
password of every URL in a text with ``***`` and keeps the rest (``http://admin:***@host``), so that the
message still says where; ``error_text`` is an exception as a run or a tool call stores it.
"""

from __future__ import annotations

import re

from timestep.storable import printable

__all__ = ["error_text", "redact", "redact_location"]

# scheme://user:password@ : the user and password as URLs write them (no whitespace, '/', '?', '#' or '@'; the
# password may hold ':'), so that a path or query holding ':' and '@' is not taken for credentials.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#@]*@")
_LOCATION_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text) if "://" in text else text


def redact_location(location: str) -> str:
    """A store location (a path, or one URL) with its password replaced by ``***``: the whole text is the URL,
    so the password is everything between the user's ``:`` and the last ``@``."""
    return _LOCATION_PASSWORD.sub(r"\1***@", location)


def error_text(error: BaseException) -> str:
    """``Type: message`` with URL passwords hidden, as a text column holds it (see ``storable.printable``)."""
    return printable(redact(f"{type(error).__name__}: {error}"))
