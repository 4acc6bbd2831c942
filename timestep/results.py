"""What ``run_agent``, ``resume_run`` and ``recover`` return: the SDK's result plus the id the run is stored
under; a streaming result commits the run's outcome once its events are drained."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from agents import RunResult, RunResultStreaming, RunState
from agents.stream_events import StreamEvent

__all__ = ["TimestepRunResult", "TimestepStreamingResult", "consume_result"]


class TimestepRunResult:
    """The SDK's result of a finished or interrupted run, plus the id it is stored under."""

    def __init__(self, result: RunResult, run_id: str) -> None:
        self._result = result
        self.run_id = run_id
        self._state: RunState[Any, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)

    @property
    def sdk_result(self) -> RunResult:
        return self._result

    @property
    def state(self) -> RunState[Any, Any]:
        """The run's state, to approve or reject interruptions in place and run on."""
        if self._state is None:
            self._state = self._result.to_state()
        return self._state


class TimestepStreamingResult:
    """The SDK's streaming result; the run is stored as finished once its events have been drained."""

    def __init__(self, result: RunResultStreaming, run_id: str, finish: Callable[[], Awaitable[None]],
                 fail: Callable[[BaseException], Awaitable[BaseException]]) -> None:
        self._result = result
        self.run_id = run_id
        self._finish = finish
        self._fail = fail
        self._done = False
        self._failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)

    @property
    def sdk_result(self) -> RunResultStreaming:
        return self._result

    @property
    def state(self) -> RunState[Any, Any]:
        return self._result.to_state()

    @property
    def is_finished(self) -> bool:
        return self._done

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        """The SDK's events; after the last one the run's outcome is committed to the store. When the run or
        storing its outcome fails, it is stored as failed and the error is raised (see ``_fail``)."""
        try:
            async for event in self._result.stream_events():
                yield event
            if not self._done:
                self._done = True
                await self._finish()
        except BaseException as exc:
            if self._failed:
                raise
            self._done = self._failed = True
            failure = await self._fail(exc)
            if failure is exc:
                raise
            raise failure from failure.__cause__


Result = TypeVar("Result", TimestepRunResult, TimestepStreamingResult, RunResult, RunResultStreaming)


async def consume_result(result: Result) -> Result:
    """Drain a streaming result and return it finished; a finished result is returned as is."""
    if isinstance(result, TimestepStreamingResult):
        if not result.is_finished:
            async for _ in result.stream_events():
                pass
        return result
    if isinstance(result, RunResultStreaming):
        async for _ in result.stream_events():
            pass
    return result
