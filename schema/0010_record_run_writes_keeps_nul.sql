-- A run's writes with their JSON documents kept as given, NUL included, and the error of a run that failed.
--  * PostgreSQL's json functions that take a document apart (json_to_record, json_to_recordset, ->, ->>)
--    turn every string in it into text, and text cannot hold the NUL that the escape \u0000 stands for:
--    one \u0000 anywhere in a run's writes refused all of them ("unsupported Unicode escape sequence"),
--    although the json columns they go to keep it as written. So the documents inside the writes (a new
--    run's input, journal step payloads, the items sessions append, the final output) now come as JSON
--    strings holding their text, read as text and cast back to json: their escapes are never decoded.
--    json_array_elements returns its elements as written and splits the items.
--  * The status part takes the run's error, so that a run that fails is stored as failed, with its error
--    and without an owner, in the same commit as its last writes.
-- The parts are as in 0009, except:
--   "run":      {..., "input": json text},
--   "steps":    [{"kind", "step_key", "payload": json text}, ...],
--   "sessions": [{"session_id", "operation_id", "items": json text of an array}, ...],
--   "status":   {"status", "final_output": json text, "error"}
CREATE OR REPLACE FUNCTION timestep_record_run_writes(p_run text, p_writes json, p_state json) RETURNS void
LANGUAGE plpgsql AS $$
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
        SELECT p_run, r.agent_name, 'running', r.session_id, r.input::json, r.owner,
            now() + make_interval(secs => r.lease_seconds), r.journaled, r.max_turns
        FROM json_to_record(w.run) AS r (agent_name text, session_id text, input text, owner text,
            lease_seconds double precision, journaled boolean, max_turns integer);
    END IF;
    IF w.calls IS NOT NULL OR w.outputs IS NOT NULL OR w.usage IS NOT NULL OR w.steps IS NOT NULL THEN
        WITH outputs AS (
            SELECT o.call_id, o.output, o.status
            FROM json_to_recordset(w.outputs) AS o (call_id text, output text, status text)
        ), new_calls AS (
            INSERT INTO timestep_tool_calls (run_id, call_id, tool_name, agent_name, arguments, output, status,
                finished_at)
            SELECT p_run, c.call_id, c.tool_name, c.agent_name, c.arguments, o.output,
                coalesce(o.status, 'running'), CASE WHEN o.call_id IS NOT NULL THEN now() END
            FROM json_to_recordset(w.calls) AS c (call_id text, tool_name text, agent_name text, arguments text)
            LEFT JOIN outputs AS o ON o.call_id = c.call_id
            ON CONFLICT (run_id, call_id) DO NOTHING
        ), finished_calls AS (
            -- a rejected call keeps its status and gets the message the model was given as its output
            UPDATE timestep_tool_calls AS t SET output = o.output, finished_at = now(),
                status = CASE WHEN t.status = 'rejected' THEN 'rejected' ELSE o.status END
            FROM outputs AS o
            WHERE t.run_id = p_run AND t.call_id = o.call_id
        ), used AS (
            INSERT INTO timestep_usage (run_id, agent_name, provider, model, requests, input_tokens,
                output_tokens, cached_tokens, reasoning_tokens, total_tokens)
            SELECT p_run, u.agent_name, u.provider, u.model, u.requests, u.input_tokens, u.output_tokens,
                u.cached_tokens, u.reasoning_tokens, u.total_tokens
            FROM json_to_recordset(w.usage) AS u (agent_name text, provider text, model text, requests integer,
                input_tokens bigint, output_tokens bigint, cached_tokens bigint, reasoning_tokens bigint,
                total_tokens bigint)
        )
        INSERT INTO timestep_run_steps (run_id, kind, step_key, payload)
        SELECT p_run, s.kind, s.step_key, s.payload::json
        FROM json_to_recordset(w.steps) AS s (kind text, step_key text, payload text)
        ON CONFLICT (run_id, kind, step_key) DO NOTHING;
    END IF;
    IF w.sessions IS NOT NULL THEN
        FOR appended IN
            SELECT a.session_id, a.operation_id, a.items
            FROM json_to_recordset(w.sessions) AS a (session_id text, operation_id text, items text)
        LOOP
            PERFORM timestep_add_session_items(
                appended.session_id, appended.operation_id, p_run,
                ARRAY(SELECT json_array_elements(appended.items::json))
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
        SELECT p_run, s.kind, s.language, s.sdk_version, s.schema_version, p_state, s.size_bytes,
            (SELECT max(i.id) FROM timestep_session_items AS i WHERE i.session_id = s.session_id)
        FROM json_to_record(w.snapshot) AS s (kind text, language text, sdk_version text, schema_version text,
            size_bytes integer, session_id text);
    END IF;
    IF w.status IS NOT NULL THEN
        UPDATE timestep_runs AS r SET status = s.status, owner = NULL, final_output = s.final_output::json,
            error = s.error, updated_at = now(),
            finished_at = CASE WHEN s.status IN ('completed', 'failed', 'cancelled') THEN now() END
        FROM json_to_record(w.status) AS s (status text, final_output text, error text)
        WHERE r.run_id = p_run;
    END IF;
END
$$;
