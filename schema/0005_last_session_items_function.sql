-- The last items of a session as one JSON array text, as a function for the same reason as 0004: with
-- table statistics the planner spends longer planning this query than running it, and PL/pgSQL keeps
-- the plan.
CREATE FUNCTION timestep_last_session_items(p_session text, p_limit integer)
RETURNS text LANGUAGE plpgsql STABLE AS $$
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
