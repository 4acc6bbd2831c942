-- timestep's functions: every write of a run or a session goes through them, and they are the write protocol
-- other languages call. Unlike the numbered migrations this file is repeatable: whenever its checksum differs
-- from the one the database recorded, it is applied again as a whole (in one transaction, under the migration
-- lock, after the numbered migrations), so a function is changed here, in place, not in a new migration.
--
-- Rules for changing it:
--  * every function is CREATE OR REPLACE, so that applying the file again is harmless;
--  * a function whose arguments or result type change needs the old one dropped first (DROP FUNCTION IF
--    EXISTS with the old signature, here), since CREATE OR REPLACE would add an overload beside it;
--  * a change released to users raises the revision below. A database records the revision it was given and
--    a timestep whose file has a lower revision refuses that database instead of putting its older functions
--    back over newer ones (as it refuses a database with a numbered migration it does not know). With the
--    same revision a different file is applied again: that is a development build.
--  * the functions may use the tables of every numbered migration this timestep knows, not more.
--
-- timestep functions revision: 1

-- Appending items to a session, as a function: PL/pgSQL caches the plans of its statements per backend,
-- and the embedded engine cannot keep client-side prepared statements (every client shares its one
-- backend), so each call would otherwise plan three inserts again. Returns false when the operation id
-- was already applied (nothing is written).
CREATE OR REPLACE FUNCTION timestep_add_session_items(p_session text, p_operation text, p_run text, p_items json[])
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    -- the session row first: writers to one session queue up behind its lock and never deadlock
    INSERT INTO timestep_sessions AS t (session_id) VALUES (p_session)
    ON CONFLICT (session_id) DO UPDATE SET updated_at = now();
    IF p_operation IS NOT NULL THEN
        INSERT INTO timestep_session_operations (session_id, operation_id) VALUES (p_session, p_operation)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN false;
        END IF;
    END IF;
    INSERT INTO timestep_session_items (session_id, item, run_id)
    SELECT p_session, x.item, p_run FROM unnest(p_items) WITH ORDINALITY AS x (item, n) ORDER BY x.n;
    RETURN true;
END
$$;

-- The last items of a session (or all of them, p_limit NULL) as one JSON array text, as a function for the
-- same reason: with table statistics the planner spends longer planning this query than running it, and
-- PL/pgSQL keeps the plan. It reads them by the session index: with statistics the planner preferred walking
-- the primary key backwards and filtering by session, which reads every newer row of every other session
-- first (0.9 ms instead of 0.3 ms for 100 of 200 items behind 4,000 others): it costs the session index's
-- heap fetches as random reads, while a session's items sit on a few pages that are in memory. The function
-- prices random reads as SSD-backed and cached databases are tuned to, for its own statement only.
CREATE OR REPLACE FUNCTION timestep_last_session_items(p_session text, p_limit integer)
RETURNS text LANGUAGE plpgsql STABLE SET random_page_cost = 1.1 AS $$
DECLARE
    result text;
BEGIN
    SELECT '[' || string_agg(last.item, ',' ORDER BY last.id) || ']' INTO result
    FROM (
        SELECT id, item::text AS item FROM timestep_session_items
        WHERE session_id = p_session ORDER BY id DESC LIMIT p_limit
    ) AS last;
    RETURN result;
END
$$;

-- What a run wrote since its last commit, in one call: the tool calls its model asked for, the outputs of
-- the tools that ran, usage, journal steps, the items its sessions appended and, when the run stops, the
-- calls it waits on, its snapshot and its status (with the error of a run that failed, so that it is stored
-- as failed, with its error and without an owner, in the same commit as its last writes); a new run's own row
-- comes first. One JSON document, every part optional, and the snapshot's state as an argument of its own:
--   {"run":      {"agent_name", "session_id", "input": json text, "owner", "lease_seconds", "journaled",
--                 "max_turns"},
--    "calls":    [{"call_id", "tool_name", "agent_name", "arguments"}, ...],
--    "outputs":  [{"call_id", "output", "status"}, ...],
--    "usage":    [{"agent_name", "provider", "model", "requests", "input_tokens", "output_tokens",
--                  "cached_tokens", "reasoning_tokens", "total_tokens"}, ...],
--    "steps":    [{"kind", "step_key", "payload": json text}, ...],
--    "sessions": [{"session_id", "operation_id", "items": json text of an array}, ...],
--    "pending":  [{"call_id", "tool_name", "agent_name", "arguments"}, ...],
--    "snapshot": {"kind", "language", "sdk_version", "schema_version", "size_bytes",
--                 "session_id" (to note how far that session went)},
--    "status":   {"status", "final_output": json text, "error"}}
-- One statement is one round trip and atomic, and PL/pgSQL keeps the plans of the statements it runs: on the
-- embedded engine planning costs more than the writes themselves. Each part is read once into a record
-- (json_to_record/json_to_recordset), since every -> on a json value parses its whole text again.
--  * The four parts every turn writes (calls, outputs, usage, steps) go in one statement of data-modifying
--    CTEs instead of four: on the embedded engine a turn's commit went from about 0.57 to 0.45 ms, and it is
--    what the run's next tool waits for. The statements of a CTE do not see each other's rows, so a call that
--    comes with its output (a run without a journal does not wait between the two) takes the output as it is
--    inserted; the UPDATE finishes calls that earlier commits stored.
--  * The snapshot's state comes as an argument of its own and is parsed once. Inside the document it was
--    parsed three times (the document, its snapshot part, the state column): a 35 KB final commit went from
--    about 1.3 to 0.9 ms.
--  * The documents inside the writes (a new run's input, journal step payloads, the items sessions append,
--    the final output) come as JSON strings holding their text, read as text and cast back to json, so that
--    they are kept as given, NUL included. PostgreSQL's json functions that take a document apart
--    (json_to_record, json_to_recordset, ->, ->>) turn every string in it into text, and text cannot hold the
--    NUL that the escape \u0000 stands for: one \u0000 anywhere in a run's writes would refuse all of them
--    ("unsupported Unicode escape sequence"), although the json columns they go to keep it as written.
--    json_array_elements returns its elements as written and splits the items.
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
