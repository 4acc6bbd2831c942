-- What a run wrote since its last commit, in one call: the tool calls its model asked for, the outputs of
-- the tools that ran, usage, journal steps and the items its sessions appended, given as one JSON document
-- (every part optional, each a list of rows):
--   {"calls":    [[call_id, tool_name, agent_name, arguments], ...],
--    "outputs":  [[call_id, output, status], ...],
--    "usage":    [[agent_name, provider, model, requests, input, output, cached, reasoning, total], ...],
--    "steps":    [[kind, step_key, payload], ...],
--    "sessions": [[session_id, operation_id, [item, ...]], ...]}
-- One statement is one round trip and atomic, and PL/pgSQL keeps the plans of the statements it runs: on the
-- embedded engine planning costs more than the writes themselves.
CREATE FUNCTION timestep_record_run_writes(p_run text, p_writes json) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    appended json;
BEGIN
    IF p_writes->'calls' IS NOT NULL THEN
        INSERT INTO timestep_tool_calls (run_id, call_id, tool_name, agent_name, arguments, status)
        SELECT p_run, c->>0, c->>1, c->>2, c->>3, 'running' FROM json_array_elements(p_writes->'calls') AS c
        ON CONFLICT (run_id, call_id) DO NOTHING;
    END IF;
    IF p_writes->'outputs' IS NOT NULL THEN
        -- a rejected call keeps its status and gets the message the model was given as its output
        UPDATE timestep_tool_calls AS t SET output = o->>1, finished_at = now(),
            status = CASE WHEN t.status = 'rejected' THEN 'rejected' ELSE o->>2 END
        FROM json_array_elements(p_writes->'outputs') AS o WHERE t.run_id = p_run AND t.call_id = o->>0;
    END IF;
    IF p_writes->'usage' IS NOT NULL THEN
        INSERT INTO timestep_usage (run_id, agent_name, provider, model, requests, input_tokens, output_tokens,
            cached_tokens, reasoning_tokens, total_tokens)
        SELECT p_run, u->>0, u->>1, u->>2, (u->>3)::integer, (u->>4)::bigint, (u->>5)::bigint, (u->>6)::bigint,
            (u->>7)::bigint, (u->>8)::bigint
        FROM json_array_elements(p_writes->'usage') AS u;
    END IF;
    IF p_writes->'steps' IS NOT NULL THEN
        INSERT INTO timestep_run_steps (run_id, kind, step_key, payload)
        SELECT p_run, s->>0, s->>1, s->2 FROM json_array_elements(p_writes->'steps') AS s
        ON CONFLICT (run_id, kind, step_key) DO NOTHING;
    END IF;
    IF p_writes->'sessions' IS NOT NULL THEN
        FOR appended IN SELECT json_array_elements(p_writes->'sessions') LOOP
            PERFORM timestep_add_session_items(
                appended->>0, appended->>1, p_run, ARRAY(SELECT json_array_elements(appended->2))
            );
        END LOOP;
    END IF;
END
$$;
