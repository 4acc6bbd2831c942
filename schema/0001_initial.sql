-- timestep's tables, shared by every language and by both engines (PGLite and PostgreSQL server).
-- JSON documents are stored as `json` (kept byte for byte, validated on write) and read as text.
-- The functions every write goes through are in functions.sql, applied after the numbered migrations.

CREATE TABLE timestep_sessions (
    session_id  text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Conversation items of a session, in the order they were added.
CREATE TABLE timestep_session_items (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  text NOT NULL REFERENCES timestep_sessions (session_id) ON DELETE CASCADE,
    item        json NOT NULL,
    run_id      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX timestep_session_items_by_session ON timestep_session_items (session_id, id);

-- Writes that carried an operation id, so that a retried write is applied once.
CREATE TABLE timestep_session_operations (
    session_id    text NOT NULL REFERENCES timestep_sessions (session_id) ON DELETE CASCADE,
    operation_id  text NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, operation_id)
);

CREATE TABLE timestep_runs (
    run_id        text PRIMARY KEY,
    agent_name    text NOT NULL,
    status        text NOT NULL
                  CHECK (status IN ('running', 'interrupted', 'completed', 'failed', 'cancelled')),
    session_id    text,
    language      text NOT NULL DEFAULT 'python' CHECK (language IN ('python', 'typescript')),
    input         json,
    final_output  json,
    error         text,
    owner         text,           -- process and host running it, for recovery of orphaned runs
    lease_until   timestamptz,    -- the owner's heartbeat; a run past its lease is recoverable
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    journaled     boolean NOT NULL DEFAULT true,  -- false (durable=False): recorded, not journaled, never replayed
    max_turns     integer         -- the limit it was started with, kept when it is resumed or recovered
);
CREATE INDEX timestep_runs_by_status ON timestep_runs (status, updated_at);
CREATE INDEX timestep_runs_by_session ON timestep_runs (session_id, created_at);
-- Recovery at start-up looks for runs still marked running.
CREATE INDEX timestep_runs_running ON timestep_runs (run_id) WHERE status = 'running';

-- Serialized RunState of a run: at every interruption, at checkpoints and at the end.
CREATE TABLE timestep_run_snapshots (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          text NOT NULL REFERENCES timestep_runs (run_id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('interrupted', 'checkpoint', 'final')),
    language        text NOT NULL CHECK (language IN ('python', 'typescript')),
    sdk_version     text NOT NULL,
    schema_version  text NOT NULL,
    state           json NOT NULL,
    size_bytes      integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- where the session stood when the snapshot was taken, so that recovering a run from this snapshot can
    -- drop the session items a dead attempt wrote after it before replaying them
    session_item_id bigint
);
CREATE INDEX timestep_run_snapshots_by_run ON timestep_run_snapshots (run_id, id);

-- Every tool call of a run, with its approval decision when it needed one.
CREATE TABLE timestep_tool_calls (
    run_id            text NOT NULL REFERENCES timestep_runs (run_id) ON DELETE CASCADE,
    call_id           text NOT NULL,
    tool_name         text NOT NULL,
    agent_name        text,
    arguments         text,
    output            text,
    status            text NOT NULL
                      CHECK (status IN ('pending_approval', 'approved', 'rejected', 'running',
                                        'completed', 'failed')),
    needs_approval    boolean NOT NULL DEFAULT false,
    decision          text CHECK (decision IN ('approved', 'rejected')),
    decided_by        text,
    decided_at        timestamptz,
    decision_message  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    PRIMARY KEY (run_id, call_id)
);
CREATE INDEX timestep_tool_calls_pending ON timestep_tool_calls (status) WHERE status = 'pending_approval';

-- Token usage of each model request. No index by time: no query reads usage by time (reports group every
-- row of a run, a session or the store), and every model request would pay for keeping one.
CREATE TABLE timestep_usage (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            text NOT NULL REFERENCES timestep_runs (run_id) ON DELETE CASCADE,
    step              integer,
    agent_name        text,
    provider          text,
    model             text,
    requests          integer NOT NULL DEFAULT 1,
    input_tokens      bigint NOT NULL DEFAULT 0,
    output_tokens     bigint NOT NULL DEFAULT 0,
    cached_tokens     bigint NOT NULL DEFAULT 0,
    reasoning_tokens  bigint NOT NULL DEFAULT 0,
    total_tokens      bigint NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX timestep_usage_by_run ON timestep_usage (run_id);

-- The step journal: each model response and tool result as it happened, so that a run whose process
-- died can be replayed without asking the model or running a completed tool again.
CREATE TABLE timestep_run_steps (
    run_id      text NOT NULL REFERENCES timestep_runs (run_id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('model_response', 'tool_result')),
    step_key    text NOT NULL,   -- the step number for model responses, the call id for tool results
    payload     json NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, kind, step_key)
);
