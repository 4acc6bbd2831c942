// The @openai/agents Session interface on timestep_session_items, sharing the rows with Python's
// TimestepSession (timestep/session.py). Items are stored in the Responses-API shapes the Python SDK
// stores, so that either language can read a session the other wrote: the TypeScript protocol items the
// runner hands in are converted on the way in and back on the way out (as timestep/translate/items.py
// does). Only messages, function calls and their outputs are carried; anything else is refused.

export class SessionItemError extends Error {}

function refuse(item, why) {
  return new SessionItemError(`session item ${JSON.stringify(item).slice(0, 200)} cannot be stored: ${why}`);
}

function textOutput(output, item) {
  if (typeof output === 'string') return output;
  if (output && output.type === 'text' && typeof output.text === 'string' && Object.keys(output).length === 2) {
    return output.text;
  }
  throw refuse(item, 'structured tool outputs (images, files, lists) are not supported');
}

function assistantTexts(content, item) {
  if (typeof content === 'string') return [content];
  return content.map((part) => {
    if (part.type !== 'output_text' || part.annotations?.length || part.logprobs?.length) {
      throw refuse(item, `content part ${part.type} is not supported`);
    }
    return part.text;
  });
}

// A TypeScript protocol item as the Responses item the Python SDK stores.
export function toStored(item) {
  const kind = item.type ?? ('role' in item ? 'message' : undefined);
  if (kind === 'function_call') {
    const out = { arguments: item.arguments, call_id: item.callId, name: item.name, type: 'function_call' };
    if (item.id != null) out.id = item.id;
    if (item.status != null) out.status = item.status;
    return out;
  }
  if (kind === 'function_call_result') {
    return { call_id: item.callId, output: textOutput(item.output, item), type: 'function_call_output' };
  }
  if (kind === 'message') {
    if (item.role === 'assistant') {
      const out = item.id != null ? { id: item.id } : {};
      return Object.assign(out, {
        content: assistantTexts(item.content, item).map((text) => ({ annotations: [], text, type: 'output_text' })),
        role: 'assistant',
        status: item.status ?? 'completed',
        type: 'message',
      });
    }
    if (item.role === 'user' || item.role === 'system') return { role: item.role, content: item.content };
    throw refuse(item, `message role ${item.role} is not supported`);
  }
  throw refuse(item, `item type ${kind} is not supported (messages, function calls and their outputs only)`);
}

// A stored Responses item as a TypeScript protocol item; names maps call ids to tool names.
export function fromStored(item, names) {
  const kind = item.type ?? ('role' in item ? 'message' : undefined);
  if (kind === 'function_call') {
    const out = { type: 'function_call' };
    if (item.id != null) out.id = item.id;
    Object.assign(out, { callId: item.call_id, name: item.name, arguments: item.arguments });
    if (item.status != null) out.status = item.status;
    return out;
  }
  if (kind === 'function_call_output') {
    if (!names.has(item.call_id)) throw refuse(item, `no function call ${item.call_id} precedes this output`);
    return {
      type: 'function_call_result',
      name: names.get(item.call_id),
      callId: item.call_id,
      status: item.status ?? 'completed',
      output: { type: 'text', text: textOutput(item.output, item) },
    };
  }
  if (kind === 'message') {
    if (item.role === 'assistant') {
      const out = item.id != null ? { id: item.id } : {};
      return Object.assign(out, {
        type: 'message',
        role: 'assistant',
        status: item.status ?? 'completed',
        content: assistantTexts(item.content, item).map((text) => ({ type: 'output_text', text })),
      });
    }
    return { type: 'message', role: item.role, content: item.content };
  }
  throw refuse(item, `item type ${kind} is not supported (messages, function calls and their outputs only)`);
}

const ADD_ITEMS = `
WITH s AS (
    INSERT INTO timestep_sessions AS t (session_id) VALUES ($1)
    ON CONFLICT (session_id) DO UPDATE SET updated_at = now()
    RETURNING t.session_id
)
INSERT INTO timestep_session_items (session_id, item, run_id)
SELECT s.session_id, i.item, $3::text FROM s, unnest($2::json[]) WITH ORDINALITY AS i (item, n)
ORDER BY i.n`;

const GET_ALL = `SELECT '[' || string_agg(item::text, ',' ORDER BY id) || ']' AS items
FROM timestep_session_items WHERE session_id = $1`;

const POP_ITEM = `
WITH s AS (
    SELECT session_id FROM timestep_sessions WHERE session_id = $1 FOR NO KEY UPDATE
), d AS (
    DELETE FROM timestep_session_items
    WHERE id = (
        SELECT id FROM timestep_session_items WHERE session_id = (SELECT session_id FROM s)
        ORDER BY id DESC LIMIT 1 FOR UPDATE
    )
    RETURNING item::text AS item
), touched AS (
    UPDATE timestep_sessions SET updated_at = now()
    WHERE session_id = $1 AND EXISTS (SELECT 1 FROM d)
)
SELECT item FROM d`;

const CLEAR = `
WITH s AS (
    UPDATE timestep_sessions SET updated_at = now() WHERE session_id = $1 RETURNING session_id
)
DELETE FROM timestep_session_items WHERE session_id = (SELECT session_id FROM s)`;

export class TimestepSession {
  // runId tags the rows this session adds with the run that added them.
  constructor(client, sessionId, { runId = null } = {}) {
    this.client = client;
    this.sessionId = sessionId;
    this.runId = runId;
  }

  async getSessionId() {
    return this.sessionId;
  }

  async getItems(limit) {
    const { rows } = await this.client.query(GET_ALL, [this.sessionId]);
    const stored = rows[0]?.items ? JSON.parse(rows[0].items) : [];
    const names = new Map(stored.filter((i) => i.type === 'function_call').map((i) => [i.call_id, i.name]));
    const items = stored.map((i) => fromStored(i, names));
    if (limit === undefined || limit === null || limit < 0) return items;
    return limit === 0 ? [] : items.slice(-limit);
  }

  async addItems(items) {
    if (items.length === 0) return;
    const encoded = items.map((i) => JSON.stringify(toStored(i)));
    await this.client.query(ADD_ITEMS, [this.sessionId, encoded, this.runId]);
  }

  async popItem() {
    const { rows } = await this.client.query(POP_ITEM, [this.sessionId]);
    if (rows.length === 0) return undefined;
    const item = JSON.parse(rows[0].item);
    const names = new Map();
    if (item.type === 'function_call_output') {
      const found = await this.client.query(
        "SELECT item->>'name' AS name FROM timestep_session_items WHERE session_id = $1" +
          " AND item->>'type' = 'function_call' AND item->>'call_id' = $2 ORDER BY id DESC LIMIT 1",
        [this.sessionId, item.call_id],
      );
      names.set(item.call_id, found.rows[0]?.name ?? '');
    }
    return fromStored(item, names);
  }

  async clearSession() {
    await this.client.query(CLEAR, [this.sessionId]);
  }
}
