"""The statuses of runs and tool calls and the kinds of snapshots, as the schema's CHECK constraints allow
them (a test holds the two together): one list each, for the library, the command line and SQL."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FINISHED", "RunStatus", "SnapshotKind", "ToolCallStatus"]


class RunStatus(StrEnum):
    RUNNING = "running"
    INTERRUPTED = "interrupted"  # waiting for approvals, with a snapshot to resume from
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})
"""A run in one of these statuses has nothing left to resume or recover."""


class ToolCallStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class SnapshotKind(StrEnum):
    INTERRUPTED = "interrupted"  # taken when a run stopped for approvals
    CHECKPOINT = "checkpoint"  # saved by the caller, or where a run continued from a given state
    FINAL = "final"  # taken when a run completed
