-- What a run wrote since its last commit, in one call: the tool calls its model asked for, the outputs of
-- the tools that ran, usage, journal steps, the items its sessions appended and, when the run stops, the
-- calls it waits on, its snapshot and its status; a new run's own row comes first. One JSON document, every
-- part optional:
--   {"run":      {"agent_name", "session_id", "input", "owner", "lease_seconds", "journaled", "max_turns"},
--    "calls":    [{"call_id", "tool_name", "agent_name", "arguments"}, ...],
--    "outputs":  [{"call_id", "output", "status"}, ...],
--    "usage":    [{"agent_name", "provider", "model", "requests", "input_tokens", "output_tokens",
--                  "cached_tokens", "reasoning_tokens", "total_tokens"}, ...],
--    "steps":    [{"kind", "step_key", "payload"}, ...],
--    "sessions": [{"session_id", "operation_id", "items": [item, ...]}, ...],
--    "pending":  [{"call_id", "tool_name", "agent_name", "arguments"}, ...],
--    "snapshot": {"kind", "language", "sdk_version", "schema_version", "size_bytes", "state",
--                 "session_id" (to note how far that session went)},
--    "status":   {"status", "final_output"}}
-- One statement is one round trip and atomic, and PL/pgSQL keeps the plans of the statements it runs: on the
-- embedded engine planning costs more than the writes themselves. Each part is read once into a record
-- (json_to_record/json_to_recordset), since every -> on a json value parses its whole text again.
CREATE FUNCTION timestep_record_run_writes(p_run text, p_writes json) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    w record;
    appended record;
BEGIN
    SELECT * INTO w FROM json_to_record(p_writes) AS x (
        run json, calls json, outputs json, usage json, steps json, sessions json, pending json, snapshot json,
        status json
    );
    IF w.run IS NOT NULL THEN
        INSERT INTO timestep_runs (run_id, agent_name, status, session_id, input, owner, lease_until, journaled,
            max_turns)
        SELECT p_run, r.agent_name, 'running', r.session_id, r.input, r.owner,
            now() + make_interval(secs => r.lease_seconds), r.journaled, r.max_turns
        FROM json_to_record(w.run) AS r (agent_name text, session_id text, input json, owner text,
            lease_seconds double precision, journaled boolean, max_turns integer);
    END IF;
    IF w.calls IS NOT NULL THEN
        INSERT INTO timestep_tool_calls (run_id, call_id, tool_name, agent_name, arguments, status)
        SELECT p_run, c.call_id, c.tool_name, c.agent_name, c.arguments, 'running'
        FROM json_to_recordset(w.calls) AS c (call_id text, tool_name text, agent_name text, arguments text)
        ON CONFLICT (run_id, call_id) DO NOTHING;
    END IF;
    IF w.outputs IS NOT NULL THEN
        -- a rejected call keeps its status and gets the message the model was given as its output
        UPDATE timestep_tool_calls AS t SET output = o.output, finished_at = now(),
            status = CASE WHEN t.status = 'rejected' THEN 'rejected' ELSE o.status END
        FROM json_to_recordset(w.outputs) AS o (call_id text, output text, status text)
        WHERE t.run_id = p_run AND t.call_id = o.call_id;
    END IF;
    IF w.usage IS NOT NULL THEN
        INSERT INTO timestep_usage (run_id, agent_name, provider, model, requests, input_tokens, output_tokens,
            cached_tokens, reasoning_tokens, total_tokens)
        SELECT p_run, u.agent_name, u.provider, u.model, u.requests, u.input_tokens, u.output_tokens,
            u.cached_tokens, u.reasoning_tokens, u.total_tokens
        FROM json_to_recordset(w.usage) AS u (agent_name text, provider text, model text, requests integer,
            input_tokens bigint, output_tokens bigint, cached_tokens bigint, reasoning_tokens bigint,
            total_tokens bigint);
    END IF;
    IF w.steps IS NOT NULL THEN
        INSERT INTO timestep_run_steps (run_id, kind, step_key, payload)
        SELECT p_run, s.kind, s.step_key, s.payload
        FROM json_to_recordset(w.steps) AS s (kind text, step_key text, payload json)
        ON CONFLICT (run_id, kind, step_key) DO NOTHING;
    END IF;
    IF w.sessions IS NOT NULL THEN
        FOR appended IN
            SELECT a.session_id, a.operation_id, a.items
            FROM json_to_recordset(w.sessions) AS a (session_id text, operation_id text, items json)
        LOOP
            PERFORM timestep_add_session_items(
                appended.session_id, appended.operation_id, p_run, ARRAY(SELECT json_array_elements(appended.items))
            );
        END LOOP;
    END IF;
    IF w.pending IS NOT NULL THEN
        -- calls an interruption waits on; a call decided already keeps its status
        INSERT INTO timestep_tool_calls AS t (run_id, call_id, tool_name, agent_name, arguments, status,
            needs_approval)
        SELECT p_run, c.call_id, c.tool_name, c.agent_name, c.arguments, 'pending_approval', true
        FROM json_to_recordset(w.pending) AS c (call_id text, tool_name text, agent_name text, arguments text)
        ON CONFLICT (run_id, call_id) DO UPDATE SET needs_approval = true,
            status = CASE WHEN t.decision IS NULL THEN 'pending_approval' ELSE t.status END;
    END IF;
    IF w.snapshot IS NOT NULL THEN
        INSERT INTO timestep_run_snapshots (run_id, kind, language, sdk_version, schema_version, state, size_bytes,
            session_item_id)
        SELECT p_run, s.kind, s.language, s.sdk_version, s.schema_version, s.state, s.size_bytes,
            (SELECT max(i.id) FROM timestep_session_items AS i WHERE i.session_id = s.session_id)
        FROM json_to_record(w.snapshot) AS s (kind text, language text, sdk_version text, schema_version text,
            size_bytes integer, state json, session_id text);
    END IF;
    IF w.status IS NOT NULL THEN
        UPDATE timestep_runs AS r SET status = s.status, owner = NULL, final_output = s.final_output, error = NULL,
            updated_at = now(), finished_at = CASE WHEN s.status IN ('completed', 'failed', 'cancelled')
                                                   THEN now() END
        FROM json_to_record(w.status) AS s (status text, final_output json)
        WHERE r.run_id = p_run;
    END IF;
END
$$;
