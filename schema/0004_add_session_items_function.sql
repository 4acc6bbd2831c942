-- Appending items to a session, as a function: PL/pgSQL caches the plans of its statements per backend,
-- and the embedded engine cannot keep client-side prepared statements (every client shares its one
-- backend), so each call would otherwise plan three inserts again. Returns false when the operation id
-- was already applied (nothing is written).
CREATE FUNCTION timestep_add_session_items(p_session text, p_operation text, p_run text, p_items json[])
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
