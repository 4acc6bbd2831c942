-- No query reads usage by time (reports group every row of a run, a session or the store), and every model
-- request paid for keeping this index.
DROP INDEX timestep_usage_by_time;
