-- Durable execution: where the session stood when a snapshot was taken, so that recovering a run from that
-- snapshot can drop the session items a dead attempt wrote after it before replaying them.
ALTER TABLE timestep_run_snapshots ADD COLUMN session_item_id bigint;

-- Recovery at start-up looks for runs still marked running.
CREATE INDEX timestep_runs_running ON timestep_runs (run_id) WHERE status = 'running';

-- Runs started with durable=False record everything but journal nothing: recovery refuses to replay them.
ALTER TABLE timestep_runs ADD COLUMN journaled boolean NOT NULL DEFAULT true;
