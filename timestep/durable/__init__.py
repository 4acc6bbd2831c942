"""The machinery of durable runs, under the public functions of ``timestep.runs`` and ``timestep.recovery``.

- ``attempt``: one attempt at a run, wired (writer, hooks, journal) and run with its lease; its outcome stored.
- ``resumption``: claiming an interrupted run and resuming it from its latest snapshot.
- ``writer``: the run's writes, batched into one transaction per step and committed behind the run.
- ``hooks``: the SDK's run hooks that record tool calls and usage as they happen.
- ``journal`` and ``replay``: model responses and tool results journaled, and answered from the journal
  when a run is recovered.
- ``lease`` and ``ownership``: which process owns a running run, and whether it is still alive.
- ``snapshots``: RunState snapshots encoded, checked and decoded.
- ``run_records``: the statements on runs, tool calls, usage and snapshots.
"""
