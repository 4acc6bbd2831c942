#!/usr/bin/env node
// Runs a conformance scenario against the timestep store from TypeScript, so that a run can cross between
// the Python and the TypeScript SDK through the shared tables:
//
//   node store_run.mjs resume --store DIR|URL --run RUN_ID --spec scenario.json
//     Claims an interrupted run whose calls are all decided (as timestep.resume_run does), loads its latest
//     snapshot (which must be in TypeScript's format), applies the stored decisions, resumes it with the
//     scenario's agent graph and resume_turns, and writes the outcome back: tool calls and outputs, usage per
//     model request, session items, and a final snapshot with status 'completed' (or an 'interrupted' one
//     with its pending calls).
//
//   node store_run.mjs start --store DIR|URL --spec scenario.json [--session SESSION_ID]
//     Runs the scenario natively to its interruption and stores it as timestep.run_agent does: the run row
//     (language 'typescript'), tool calls, pending approvals, usage, session items and the snapshot.
//
// Prints one JSON line with the outcome on stdout; on an error, {"error": ..., "code": ...} and exit code 1.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RunState, Runner, withTrace } from '@openai/agents';
import { buildGraph, inputItems } from './scenario.mjs';
import { ScriptedModel } from './scripted.mjs';
import {
  StoreError,
  claim,
  connect,
  currentOwner,
  inTransaction,
  insertRun,
  insertSnapshot,
  listToolCalls,
  markPendingApproval,
  recordToolCalls,
  recordUsage,
  finishToolCalls,
  sessionWatermark,
  setRunStatus,
  startHeartbeat,
} from './store.mjs';
import { TimestepSession, toStored } from './store_session.mjs';

const SDK_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@openai/agents/package.json', import.meta.url), 'utf8'),
).version;
const SDK = `@openai/agents@${SDK_VERSION}`; // as timestep.translate.TYPESCRIPT_SDK labels it

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const options = {};
  for (let i = 0; i < rest.length; i += 1) {
    const flag = rest[i];
    if (!flag.startsWith('--') || i + 1 >= rest.length) throw new StoreError(`unexpected argument ${flag}`, 'usage');
    options[flag.slice(2)] = rest[(i += 1)];
  }
  return { command, options };
}

function required(options, name) {
  if (!options[name]) throw new StoreError(`--${name} is required`, 'usage');
  return options[name];
}

// Counts a run as started once the model is asked or a tool runs: an error before that leaves nothing done.
function tracked(turns, idPrefix) {
  const model = new ScriptedModel(turns, { idPrefix });
  const progress = { ran: false };
  const serve = model.serve.bind(model);
  model.serve = (request) => {
    progress.ran = true;
    return serve(request);
  };
  const runner = new Runner();
  runner.on('agent_tool_start', () => {
    progress.ran = true;
  });
  return { model, runner, progress };
}

function describeModel(agent) {
  const model = agent?.model;
  if (typeof model === 'string') return { provider: 'openai', model };
  if (!model) return { provider: null, model: null };
  return { provider: model.constructor?.name ?? null, model: typeof model.model === 'string' ? model.model : null };
}

function detailSum(details, key) {
  const list = Array.isArray(details) ? details : [details];
  return list.reduce((acc, d) => acc + (d?.[key] ?? 0), 0);
}

function outputText(output) {
  if (typeof output === 'string') return output;
  if (output && output.type === 'text' && typeof output.text === 'string') return output.text;
  return JSON.stringify(output ?? null);
}

function callOf(item) {
  const raw = item.rawItem;
  return [raw.callId, raw.name, item.agent?.name ?? null, raw.arguments ?? ''];
}

// What the run did in this process, in the rows of the shared schema.
function records(result, baseResponses) {
  const items = result.newItems;
  const calls = items
    .filter((i) => (i.type === 'tool_call_item' || i.type === 'handoff_call_item') && i.rawItem.type === 'function_call')
    .map(callOf);
  const outputs = items
    .filter((i) => i.type === 'tool_call_output_item' || i.type === 'handoff_output_item')
    .map((i) => [i.rawItem.callId, outputText(i.rawItem.output), 'completed']);
  const agentOfItem = new Map(items.filter((i) => i.rawItem?.id).map((i) => [i.rawItem.id, i.agent]));
  const usage = result.rawResponses.slice(baseResponses).map((response) => {
    const owner = response.output.map((o) => agentOfItem.get(o.id)).find(Boolean) ?? result.lastAgent;
    const u = response.usage;
    return {
      agent_name: owner?.name ?? null,
      ...describeModel(owner),
      requests: u.requests || 1,
      input_tokens: u.inputTokens,
      output_tokens: u.outputTokens,
      cached_tokens: detailSum(u.inputTokensDetails, 'cached_tokens'),
      reasoning_tokens: detailSum(u.outputTokensDetails, 'reasoning_tokens'),
      total_tokens: u.totalTokens,
    };
  });
  return { calls, outputs, usage };
}

// Commits the outcome of a run in one transaction: pending calls and snapshot, or final output and snapshot.
async function writeOutcome(client, runId, sessionId, result, baseResponses) {
  const { calls, outputs, usage } = records(result, baseResponses);
  const text = result.state.toString();
  const snapshot = { text, sdkVersion: SDK, schemaVersion: JSON.parse(text).$schemaVersion };
  const interrupted = result.interruptions.length > 0;
  await inTransaction(client, async () => {
    await recordToolCalls(client, runId, calls);
    await finishToolCalls(client, runId, outputs);
    await recordUsage(client, runId, usage);
    if (interrupted) {
      await markPendingApproval(client, runId, result.interruptions.map(callOf));
      await insertSnapshot(client, runId, 'interrupted', snapshot);
      await sessionWatermark(client, runId, sessionId);
      await setRunStatus(client, runId, 'interrupted');
    } else {
      await insertSnapshot(client, runId, 'final', snapshot);
      await setRunStatus(client, runId, 'completed', { finalOutputJson: JSON.stringify(result.finalOutput ?? null) });
    }
  });
  return {
    run_id: runId,
    status: interrupted ? 'interrupted' : 'completed',
    final_output: interrupted ? null : (result.finalOutput ?? null),
    interruptions: result.interruptions.map((i) => i.rawItem.callId),
    usage: usage.reduce(
      (acc, u) => {
        for (const key of Object.keys(acc)) acc[key] += u[key];
        return acc;
      },
      { requests: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, total_tokens: 0 },
    ),
  };
}

function applyDecisions(state, calls) {
  const decided = new Map(calls.map((c) => [c.call_id, c]));
  for (const item of state.getInterruptions()) {
    const call = decided.get(item.rawItem.callId);
    if (call?.decision === 'approved') state.approve(item);
    else if (call?.decision === 'rejected') {
      state.reject(item, call.decision_message == null ? {} : { message: call.decision_message });
    }
  }
}

function errorText(err) {
  return `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}`;
}

async function resume(client, options) {
  const runId = required(options, 'run');
  const spec = JSON.parse(readFileSync(required(options, 'spec'), 'utf8'));
  const owner = currentOwner();
  const { run, snapshot } = await claim(client, runId, owner, (latest) => {
    if (latest === null) throw new StoreError(`run ${runId} has no snapshot to resume from`, 'not_resumable');
    if (latest.language !== 'typescript') {
      throw new StoreError(
        `the latest snapshot of run ${runId} (id ${latest.id}, ${latest.kind}) is in ${latest.language}'s format, ` +
          `which the TypeScript SDK cannot load; save a TypeScript snapshot of its state first: ` +
          `RunStateStore(agent, run_id=${JSON.stringify(runId)}, store=store, format="typescript")` +
          `.save(state, kind="interrupted")`,
        'wrong_format',
      );
    }
  });
  const stopHeartbeat = startHeartbeat(client, runId, owner);
  const { model, runner, progress } = tracked(spec.resume_turns, 'resume');
  let state;
  let baseResponses;
  let executed;
  try {
    const graph = buildGraph(spec, model);
    executed = graph.executed;
    state = await RunState.fromString(graph.start, snapshot.state);
    applyDecisions(state, await listToolCalls(client, runId));
    baseResponses = state._modelResponses.length;
    const session = run.session_id == null ? undefined : new TimestepSession(client, run.session_id, { runId });
    const result = await runner.run(graph.start, state, { maxTurns: spec.max_turns, session });
    stopHeartbeat();
    const outcome = await writeOutcome(client, runId, run.session_id, result, baseResponses);
    return { ...outcome, executed };
  } catch (err) {
    stopHeartbeat();
    // Given back untouched when nothing ran; failed once the model was asked or a tool ran.
    if (progress.ran) await setRunStatus(client, runId, 'failed', { error: errorText(err) });
    else await setRunStatus(client, runId, run.status);
    err.code = err.code ?? (progress.ran ? 'failed' : 'not_resumable');
    err.runStatus = progress.ran ? 'failed' : run.status;
    throw err;
  }
}

async function start(client, options) {
  const spec = JSON.parse(readFileSync(required(options, 'spec'), 'utf8'));
  const sessionId = options.session ?? null;
  const runId = options['run-id'] ?? randomUUID().replaceAll('-', '');
  const owner = currentOwner();
  const { model, runner } = tracked(spec.turns, 'scripted');
  const { start: agent, executed } = buildGraph(spec, model);
  const input = inputItems(spec);
  const inputJson = JSON.stringify(typeof input === 'string' ? input : input.map(toStored));
  await insertRun(client, { runId, agentName: agent.name, sessionId, inputJson, owner });
  const stopHeartbeat = startHeartbeat(client, runId, owner);
  try {
    const session = sessionId == null ? undefined : new TimestepSession(client, sessionId, { runId });
    const result = await withTrace(
      spec.trace.workflow_name,
      () =>
        runner.run(agent, input, {
          maxTurns: spec.max_turns,
          session,
          ...(spec.context === null ? {} : { context: structuredClone(spec.context) }),
        }),
      { traceId: spec.trace.id, groupId: spec.trace.group_id },
    );
    stopHeartbeat();
    return { ...(await writeOutcome(client, runId, sessionId, result, 0)), executed };
  } catch (err) {
    stopHeartbeat();
    await setRunStatus(client, runId, 'failed', { error: errorText(err) });
    err.code = err.code ?? 'failed';
    err.runStatus = 'failed';
    throw err;
  }
}

async function main() {
  const { command, options } = parseArgs(process.argv.slice(2));
  const commands = { resume, start };
  if (!commands[command]) {
    throw new StoreError('usage: store_run.mjs resume|start --store DIR|URL --spec scenario.json [--run RUN] [--session S]', 'usage');
  }
  const client = await connect(required(options, 'store'));
  try {
    return await commands[command](client, options);
  } finally {
    await client.end();
  }
}

try {
  const outcome = await main();
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
} catch (err) {
  const report = { error: err?.message ?? String(err), code: err?.code ?? 'error' };
  if (err?.runStatus) report.status = err.runStatus;
  process.stdout.write(`${JSON.stringify(report)}\n`);
  if (!(err instanceof StoreError)) process.stderr.write(`${err?.stack ?? err}\n`);
  process.exitCode = 1;
}
