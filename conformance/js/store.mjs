// The timestep store from Node: connecting to an embedded data directory's socket or a PostgreSQL URL, and
// the run, snapshot, tool-call and usage SQL of timestep/run_records.py and timestep/runs.py, with the same
// semantics, so that a run can move between a Python and a TypeScript process through the shared tables.
//
// On the embedded store every client shares PGLite's one backend: keep transactions short, since a client
// in a transaction holds the backend until it ends.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { hostname, homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';

export const SOCKET_NAME = '.s.PGSQL.5432';
const MAX_SOCKET_PATH = 100; // as timestep/store/embedded_server.py
const FINISHED = new Set(['completed', 'failed', 'cancelled']);

export class StoreError extends Error {
  constructor(message, code = 'store_error') {
    super(message);
    this.code = code;
  }
}

// The socket directory of an embedded data directory, computed exactly as EmbeddedServer.socket_dir.
export function socketDir(dataDir) {
  const local = join(dataDir, 'run');
  if (join(local, SOCKET_NAME).length <= MAX_SOCKET_PATH) return local;
  const digest = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  const base = process.env.XDG_RUNTIME_DIR || tmpdir();
  return join(base, `timestep-${process.getuid()}`, digest);
}

// A data directory path or a postgresql:// URL, resolved like timestep.config.resolve_location.
export function resolveLocation(value) {
  const location = value ?? process.env.TIMESTEP_DATABASE_URL;
  if (!location) throw new StoreError('give --store: a data directory or a postgresql:// URL', 'usage');
  if (location.startsWith('postgresql://') || location.startsWith('postgres://')) {
    return { kind: 'server', value: location };
  }
  if (location.includes('://')) {
    throw new StoreError(`unsupported store location ${location}: give a data directory path or a postgresql:// URL`, 'usage');
  }
  const expanded = location === '~' || location.startsWith('~/') ? join(homedir(), location.slice(1)) : location;
  return { kind: 'embedded', value: resolve(expanded) };
}

// The socket directory and socket must be this user's alone: another user could otherwise plant a server.
function checkPrivateSocket(directory) {
  for (const path of [directory, join(directory, SOCKET_NAME)]) {
    let info;
    try {
      info = lstatSync(path);
    } catch {
      return; // no server yet: connecting fails with its own message
    }
    if (info.uid !== process.getuid() || info.isSymbolicLink() || (info.isDirectory() && info.mode & 0o077)) {
      throw new StoreError(`${path} is not private to this user; refusing to connect through it`, 'unsafe');
    }
  }
}

export async function connect(locationText) {
  const location = resolveLocation(locationText);
  if (location.kind === 'embedded') checkPrivateSocket(socketDir(location.value));
  const config =
    location.kind === 'server'
      ? { connectionString: location.value }
      : { host: socketDir(location.value), port: 5432, user: 'postgres', database: 'postgres', ssl: false };
  const client = new pg.Client(config);
  try {
    await client.connect();
  } catch (err) {
    if (location.kind === 'embedded') {
      throw new StoreError(
        `no timestep server answers on ${join(config.host, SOCKET_NAME)} (${err.message}); the embedded server ` +
          `of ${location.value} is started by the Python side: open the store there first ` +
          `(timestep.open_store(...) or any \`timestep\` command on that data directory)`,
        'unavailable',
      );
    }
    throw new StoreError(`cannot connect to ${redact(location.value)}: ${err.message}`, 'unavailable');
  }
  const migrated = await client.query("SELECT to_regclass('timestep_runs') IS NOT NULL AS ok");
  if (!migrated.rows[0].ok) {
    await client.end();
    throw new StoreError('the store has no timestep tables: open it once from Python to create them', 'unavailable');
  }
  return client;
}

function redact(url) {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

// host:pid:start, where start is the process's start time in clock ticks since boot, as
// timestep/ownership.py writes it, so that Python can tell whether this process still runs.
export function currentOwner() {
  let start = '?';
  try {
    const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '?';
  } catch {
    // no /proc: liveness is then judged by pid alone
  }
  return `${hostname()}:${process.pid}:${start}`;
}

export function leaseSettings() {
  const duration = Number(process.env.TIMESTEP_LEASE_SECONDS ?? '30');
  const interval = Number(process.env.TIMESTEP_HEARTBEAT_SECONDS ?? String(Math.min(10, duration / 3)));
  return { duration, interval };
}

export async function inTransaction(client, body) {
  await client.query('BEGIN');
  try {
    const value = await body();
    await client.query('COMMIT');
    return value;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export async function getRun(client, runId, { forUpdate = false } = {}) {
  const { rows } = await client.query(
    'SELECT run_id, agent_name, status, session_id, language, owner, error FROM timestep_runs WHERE run_id = $1' +
      (forUpdate ? ' FOR UPDATE' : ''),
    [runId],
  );
  return rows[0] ?? null;
}

export async function listToolCalls(client, runId) {
  const { rows } = await client.query(
    'SELECT call_id, tool_name, agent_name, arguments, output, status, needs_approval, decision,' +
      ' decision_message FROM timestep_tool_calls WHERE run_id = $1 ORDER BY created_at, call_id',
    [runId],
  );
  return rows;
}

// Take an interrupted run whose calls are all decided, in one transaction (runs.py _claim). The latest
// snapshot is read in the same transaction and handed to check(), which may refuse it: a refused run is left
// exactly as it was. Returns the run row as it was before, and the snapshot.
export async function claim(client, runId, owner, check = () => {}) {
  return inTransaction(client, async () => {
    const run = await getRun(client, runId, { forUpdate: true });
    if (!run) throw new StoreError(`no run ${JSON.stringify(runId)} in the store; list runs with \`timestep runs list\``, 'not_found');
    if (run.status === 'running') {
      throw new StoreError(`run ${runId} is already running or resuming in process ${run.owner}; wait for it to stop`, 'already_running');
    }
    if (FINISHED.has(run.status)) {
      throw new StoreError(`run ${runId} is ${run.status}; there is nothing to resume`, 'not_resumable');
    }
    if (run.status !== 'interrupted') {
      throw new StoreError(`run ${runId} is ${run.status}, not interrupted`, 'not_resumable');
    }
    const undecided = (await listToolCalls(client, runId)).filter((c) => c.status === 'pending_approval');
    if (undecided.length > 0) {
      const listing = undecided.map((c) => `${c.call_id} (${c.tool_name})`).join(', ');
      throw new StoreError(
        `run ${runId} still waits for decisions on ${listing}: approve or reject them first ` +
          `(\`timestep approve ${runId}\` or \`timestep reject ${runId} CALL\`)`,
        'not_resumable',
      );
    }
    const snapshot = await latestSnapshot(client, runId);
    await check(snapshot);
    await setRunStatus(client, runId, 'running', { owner });
    await client.query(
      'UPDATE timestep_runs SET lease_until = now() + make_interval(secs => $1) WHERE run_id = $2',
      [leaseSettings().duration, runId],
    );
    return { run, snapshot };
  });
}

export async function setRunStatus(client, runId, status, { owner = null, finalOutputJson = null, error = null } = {}) {
  await client.query(
    'UPDATE timestep_runs SET status = $1, owner = $2, final_output = $3::json, error = $4, updated_at = now(),' +
      ' finished_at = CASE WHEN $5::boolean THEN now() ELSE NULL END WHERE run_id = $6',
    [status, owner, finalOutputJson, error, FINISHED.has(status), runId],
  );
}

export async function insertRun(client, { runId, agentName, sessionId, inputJson, owner }) {
  await client.query(
    'INSERT INTO timestep_runs (run_id, agent_name, status, session_id, language, input, owner, lease_until,' +
      " journaled) VALUES ($1, $2, 'running', $3, 'typescript', $4::json, $5," +
      ' now() + make_interval(secs => $6), false)',
    [runId, agentName, sessionId, inputJson, owner, leaseSettings().duration],
  );
}

export async function latestSnapshot(client, runId) {
  const { rows } = await client.query(
    'SELECT id, kind, language, sdk_version, schema_version, state::text AS state FROM timestep_run_snapshots' +
      ' WHERE run_id = $1 ORDER BY id DESC LIMIT 1',
    [runId],
  );
  return rows[0] ?? null;
}

export function maxSnapshotBytes() {
  const raw = process.env.TIMESTEP_MAX_SNAPSHOT_BYTES;
  return raw && /^\d+$/.test(raw) ? Number(raw) : 32 * 1024 * 1024;
}

export async function insertSnapshot(client, runId, kind, snapshot) {
  const size = Buffer.byteLength(snapshot.text, 'utf8');
  if (size > maxSnapshotBytes()) {
    throw new StoreError(
      `the snapshot is ${size} bytes, over the limit of ${maxSnapshotBytes()} bytes; raise TIMESTEP_MAX_SNAPSHOT_BYTES`,
      'too_large',
    );
  }
  const { rows } = await client.query(
    'INSERT INTO timestep_run_snapshots (run_id, kind, language, sdk_version, schema_version, state, size_bytes)' +
      " VALUES ($1, $2, 'typescript', $3, $4, $5::json, $6) RETURNING id",
    [runId, kind, snapshot.sdkVersion, snapshot.schemaVersion, snapshot.text, size],
  );
  return Number(rows[0].id);
}

// Where the session stood when the newest snapshot was taken (journal.py session_watermark).
export async function sessionWatermark(client, runId, sessionId) {
  if (sessionId == null) return;
  await client.query(
    'UPDATE timestep_run_snapshots SET session_item_id = (SELECT max(id) FROM timestep_session_items' +
      ' WHERE session_id = $1) WHERE id = (SELECT max(id) FROM timestep_run_snapshots WHERE run_id = $2)',
    [sessionId, runId],
  );
}

const column = (rows, i) => rows.map((r) => r[i]);

// Calls as [callId, toolName, agentName, arguments]; a call seen before is left as it is.
export async function recordToolCalls(client, runId, calls) {
  if (calls.length === 0) return;
  await client.query(
    'INSERT INTO timestep_tool_calls (run_id, call_id, tool_name, agent_name, arguments, status)' +
      " SELECT $1, c, t, a, g, 'running' FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])" +
      ' AS x(c, t, a, g) ON CONFLICT (run_id, call_id) DO NOTHING',
    [runId, column(calls, 0), column(calls, 1), column(calls, 2), column(calls, 3)],
  );
}

// Outputs as [callId, output, status] of calls that ran in this process (a call finished earlier keeps its
// output); a rejected call keeps its status and gets the message the model was given as its output.
export async function finishToolCalls(client, runId, outputs) {
  if (outputs.length === 0) return;
  await client.query(
    'UPDATE timestep_tool_calls AS t SET output = x.o, finished_at = now(),' +
      " status = CASE WHEN t.status = 'rejected' THEN 'rejected' ELSE x.s END" +
      ' FROM unnest($1::text[], $2::text[], $3::text[]) AS x(c, o, s)' +
      ' WHERE t.run_id = $4 AND t.call_id = x.c AND t.output IS NULL',
    [column(outputs, 0), column(outputs, 1), column(outputs, 2), runId],
  );
}

export async function markPendingApproval(client, runId, calls) {
  if (calls.length === 0) return;
  await client.query(
    'INSERT INTO timestep_tool_calls (run_id, call_id, tool_name, agent_name, arguments, status,' +
      " needs_approval) SELECT $1, c, t, a, g, 'pending_approval', true" +
      ' FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(c, t, a, g)' +
      ' ON CONFLICT (run_id, call_id) DO UPDATE SET needs_approval = true,' +
      " status = CASE WHEN timestep_tool_calls.decision IS NULL THEN 'pending_approval'" +
      ' ELSE timestep_tool_calls.status END',
    [runId, column(calls, 0), column(calls, 1), column(calls, 2), column(calls, 3)],
  );
}

const USAGE_FIELDS = [
  'agent_name', 'provider', 'model', 'requests', 'input_tokens', 'output_tokens', 'cached_tokens',
  'reasoning_tokens', 'total_tokens',
];

export async function recordUsage(client, runId, records) {
  if (records.length === 0) return;
  await client.query(
    'INSERT INTO timestep_usage (run_id, agent_name, provider, model, requests, input_tokens, output_tokens,' +
      ' cached_tokens, reasoning_tokens, total_tokens) SELECT $1, * FROM unnest($2::text[], $3::text[],' +
      ' $4::text[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])',
    [runId, ...USAGE_FIELDS.map((f) => records.map((r) => r[f]))],
  );
}

// Renews the run's lease while this process runs it, fenced by the owner (lease.py Heartbeat).
export function startHeartbeat(client, runId, owner) {
  const { duration, interval } = leaseSettings();
  const timer = setInterval(() => {
    client
      .query(
        'UPDATE timestep_runs SET lease_until = now() + make_interval(secs => $1) WHERE run_id = $2 AND owner = $3',
        [duration, runId, owner],
      )
      .catch(() => {});
  }, Math.max(50, interval * 1000));
  timer.unref();
  return () => clearInterval(timer);
}
