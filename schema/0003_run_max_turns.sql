-- The max_turns a run was started with, so that resuming or recovering it keeps the same limit.
ALTER TABLE timestep_runs ADD COLUMN max_turns integer;
