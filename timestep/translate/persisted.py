"""How many items of the history the session already holds: the two SDKs count different things.

Python (``current_turn_persisted_item_count``) counts the items of the current turn -- the current response's
range of ``generated_items`` -- that were saved to the session, and never counts approval requests:
``save_result_to_session`` adds only the run items that convert to session input, and
``run_item_to_input_item`` converts a ``tool_approval_item`` to nothing. The run loop resets the count to 0
at the start of every turn. At an interruption with a session, the turn's items are saved before the state
is returned, so the count is the number of non-approval items in the range; without a session it stays 0.

TypeScript (``currentTurnPersistedItemCount``) is a prefix of all of ``generatedItems``: ``saveToSession``
persists ``result.newItems.slice(count)`` (``newItems`` is ``state._generatedItems``) and then records the
new prefix, approval items included. At an interruption with a session it equals ``generatedItems.length``;
without a session it stays 0.

So a count of 0 (no session, nothing saved) is 0 in both. Otherwise the saved prefix ends after the count-th
non-approval item of the current range, or at the end of the range once all of them are saved; everything
before the range belongs to earlier turns, which were saved before this one began.
"""

from __future__ import annotations

from typing import Any

from ..errors import TranslationError

__all__ = ["persisted_to_python", "persisted_to_typescript"]

_APPROVAL = "tool_approval_item"


def _saved_in_range(items: list[dict[str, Any]], start: int, end: int) -> list[int]:
    """Indexes in ``[start, end)`` of the items the session can hold (all but approval requests)."""
    return [i for i in range(start, min(end, len(items))) if items[i].get("type") != _APPROVAL]


def persisted_to_typescript(count: int, generated: list[dict[str, Any]], kept: list[int], start: int, end: int) -> int:
    """Python's count over the current range of ``generated`` as TypeScript's prefix of the ``kept`` items.

    ``kept`` lists the indexes of ``generated`` that TypeScript keeps (decided approvals move elsewhere).
    """
    path = "$.current_turn_persisted_item_count"
    if count == 0:
        return 0
    saved = _saved_in_range(generated, start, end)
    if count > len(saved):
        raise TranslationError(
            f"{count} items of the current turn are counted as saved to the session, but the turn has only "
            f"{len(saved)} items besides approval requests (generated items {start} to {end})",
            path=path,
        )
    boundary = end if count == len(saved) else saved[count - 1] + 1
    return sum(1 for i in kept if i < boundary)


def persisted_to_python(count: int, items: list[dict[str, Any]], start: int, end: int) -> int:
    """TypeScript's prefix of ``items`` (its ``generatedItems``) as Python's count over the current range."""
    path = "$.currentTurnPersistedItemCount"
    if count == 0:
        return 0
    if count > len(items):
        raise TranslationError(
            f"{count} items are counted as saved to the session, but the history has only {len(items)}", path=path
        )
    if count < start:
        raise TranslationError(
            f"only {count} items are counted as saved to the session, but the current turn starts at item "
            f"{start}: Python cannot express unsaved items of earlier turns",
            path=path,
        )
    return len(_saved_in_range(items, start, min(count, end)))
