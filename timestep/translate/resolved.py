"""Approval items whose call has since completed: Python keeps them in the history, TypeScript does not.

After a resume, Python leaves each decided ``tool_approval_item`` where it was; TypeScript removes it from
``generatedItems`` and keeps it inside the completion evidence of its call instead. Translating therefore
moves these items between the two places and shifts every index that points into the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .runitems import History

__all__ = ["Placement", "place_resolved", "resolved_indexes", "shift_range"]

_CALL_ITEMS = ("tool_call_item", "handoff_call_item")
_OUTPUT_ITEMS = ("tool_call_output_item", "handoff_output_item")


def resolved_indexes(items: list[dict[str, Any]], history: History) -> dict[str, int]:
    """Call id to history index of each approval item (Python shape) whose call already has an output."""
    found = {}
    for i, item in enumerate(items):
        if item["type"] == "tool_approval_item":
            call = history.calls[item["raw_item"]["call_id"]]
            if call.output_index is not None:
                found[call.call_id] = i
    return found


def shift_range(start: int, end: int, kept: list[int]) -> tuple[int, int]:
    """``[start, end)`` over the original history, as a range over the ``kept`` original indexes."""
    return sum(1 for i in kept if i < start), sum(1 for i in kept if i < end)


@dataclass
class Placement:
    """Python's two views of the history once the decided approval items are back in place.

    ``session`` holds every item; ``generated`` (positions into ``session``) leaves out the approval items of
    earlier responses, which Python drops from the generated history once the run moves to the next turn.
    """

    session: list[dict[str, Any]]
    generated: list[int]
    moved: dict[int, int]
    anchors: list[int]

    def generated_range(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` as a range over the generated items, widened by restored approvals."""
        anchors = [self.anchors[n] for n in self.generated]
        inside = [n for n, anchor in enumerate(anchors) if start <= anchor < end]
        if not inside:
            before = sum(1 for anchor in anchors if anchor < start)
            return before, before
        return inside[0], inside[0] + len(inside)


def _response_key(item: dict[str, Any]) -> str:
    raw = item["raw_item"]
    key = raw.get("call_id") if raw.get("type") == "function_call" else raw.get("id")
    return key if isinstance(key, str) else ""


def place_resolved(
    items: list[dict[str, Any]],
    approvals: dict[str, dict[str, Any]],
    history: History,
    response_of: dict[str, int],
    current: range,
) -> Placement:
    """Insert Python-shaped ``approvals`` (by call id) where Python keeps them: after the calls, messages
    and already-run tool outputs of the same model response, in call order, before the decided outputs.
    ``current`` is the original index range of the response being processed."""
    placed: list[tuple[dict[str, Any], int, int | None]] = [(item, i, i) for i, item in enumerate(items)]
    for call in sorted((history.calls[c] for c in approvals), key=lambda c: c.index):
        response = response_of.get(call.call_id)
        pos = next(n for n, (_, _, orig) in enumerate(placed) if orig == call.index) + 1
        while pos < len(placed):
            item = placed[pos][0]
            kind = item["type"]
            same_response = response is not None and response_of.get(_response_key(item)) == response
            if kind in _CALL_ITEMS or kind == "message_output_item":
                if not same_response:
                    break
            elif kind in _OUTPUT_ITEMS:
                done = history.calls[item["raw_item"]["call_id"]]
                if done.call_id in approvals or response_of.get(done.call_id) != response:
                    break
            elif kind == "tool_approval_item" and history.calls[item["raw_item"]["call_id"]].index > call.index:
                break
            pos += 1
        placed.insert(pos, (approvals[call.call_id], call.index, None))
    generated = [n for n, (_, anchor, orig) in enumerate(placed) if orig is not None or anchor in current]
    at = {session_pos: n for n, session_pos in enumerate(generated)}
    return Placement(
        session=[item for item, _, _ in placed],
        generated=generated,
        moved={orig: at[n] for n, (_, _, orig) in enumerate(placed) if orig is not None},
        anchors=[anchor for _, anchor, _ in placed],
    )
