// Builds a live @openai/agents graph from a declarative scenario spec (conformance/scenarios/*.json),
// mirroring tests/conformance/pyruntime.py so that both SDKs run the same scenario.
import {
  Agent,
  RunState,
  run,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  withTrace,
} from '@openai/agents';
import { ScriptedModel } from './scripted.mjs';

// Records the trace id of every trace and span started, so a resume can report which trace it continued.
export const startedTraces = [];
setTracingDisabled(false);
setTraceProcessors([
  {
    onTraceStart: async (trace) => {
      startedTraces.push(trace.traceId);
    },
    onTraceEnd: async () => {},
    onSpanStart: async (span) => {
      startedTraces.push(span.traceId);
    },
    onSpanEnd: async () => {},
    shutdown: async () => {},
    forceFlush: async () => {},
  },
]);

const PARAMETERS = { type: 'object', properties: {}, required: [], additionalProperties: true };

export function buildGraph(spec, model) {
  const executed = [];
  const toolSpecs = new Map(spec.tools.map((t) => [t.name, t]));
  const tools = new Map(
    spec.tools.map((t) => [
      t.name,
      tool({
        name: t.name,
        description: t.description,
        parameters: PARAMETERS,
        strict: false,
        needsApproval: Boolean(t.needs_approval),
        execute: async (_input, _ctx, details) => {
          executed.push({ tool: t.name, call_id: details?.toolCall?.callId ?? null });
          return t.output;
        },
      }),
    ]),
  );
  const agents = new Map(
    spec.agents.map((a) => [
      a.name,
      new Agent({
        name: a.name,
        instructions: a.instructions,
        model,
        tools: a.tools.map((name) => {
          if (!toolSpecs.has(name)) throw new Error(`agent ${a.name} names unknown tool ${name}`);
          return tools.get(name);
        }),
      }),
    ]),
  );
  for (const a of spec.agents) {
    agents.get(a.name).handoffs = a.handoffs.map((name) => agents.get(name));
  }
  return { start: agents.get(spec.start_agent), executed };
}

// Input messages in the agents-core protocol shape (the JS counterpart of EasyInputMessage).
export function inputItems(spec) {
  if (typeof spec.input === 'string') return spec.input;
  const names = new Map(spec.input.filter((m) => m.type === 'function_call').map((m) => [m.call_id, m.name]));
  return spec.input.map((m) => {
    if (m.type === 'function_call') {
      return { type: 'function_call', callId: m.call_id, name: m.name, arguments: m.arguments };
    }
    if (m.type === 'function_call_output') {
      return {
        type: 'function_call_result',
        callId: m.call_id,
        name: names.get(m.call_id),
        status: 'completed',
        output: { type: 'text', text: m.output },
      };
    }
    return m.role === 'assistant'
      ? { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: m.content }] }
      : { type: 'message', role: m.role, content: m.content };
  });
}

function applyDecisions(state, decisions) {
  const pending = new Map(state.getInterruptions().map((item) => [item.rawItem.callId, item]));
  for (const d of decisions) {
    const item = pending.get(d.call_id);
    if (!item) throw new Error(`no pending approval for call id ${d.call_id}`);
    const always = Boolean(d.always);
    if (d.approve) state.approve(item, { alwaysApprove: always });
    else state.reject(item, { alwaysReject: always, ...(d.message === undefined ? {} : { message: d.message }) });
  }
}

// Runs the scenario natively to its interruption, applies the decisions taken before saving, and
// returns the serialized state with its run-specific span ids and timestamps replaced by fixed values.
export async function runToInterruption(spec) {
  const model = new ScriptedModel(spec.turns, { idPrefix: 'scripted' });
  const { start } = buildGraph(spec, model);
  const result = await withTrace(
    spec.trace.workflow_name,
    () =>
      run(start, inputItems(spec), {
        maxTurns: spec.max_turns,
        ...(spec.context === null ? {} : { context: structuredClone(spec.context) }),
      }),
    { traceId: spec.trace.id, groupId: spec.trace.group_id },
  );
  if (result.interruptions.length === 0) throw new Error(`scenario did not interrupt`);
  applyDecisions(result.state, spec.decided_before_save ?? []);
  return scrubSpans(JSON.parse(result.state.toString()));
}

function scrubSpans(state) {
  let n = 0;
  const fix = (span) => {
    if (!span) return;
    n += 1;
    span.id = `span_${String(n).padStart(24, '0')}`;
    span.started_at = '2000-01-01T00:00:00.000Z';
    if (span.ended_at) span.ended_at = '2000-01-01T00:00:00.000Z';
    span.parent_id = null;
    fix(span.previous_span);
  };
  fix(state.currentAgentSpan);
  return state;
}

function usageTotals(usage) {
  const sum = (details, key) => details.reduce((acc, d) => acc + (d?.[key] ?? 0), 0);
  return {
    requests: usage.requests,
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    total_tokens: usage.totalTokens,
    cached_tokens: sum(usage.inputTokensDetails, 'cached_tokens'),
    reasoning_tokens: sum(usage.outputTokensDetails, 'reasoning_tokens'),
  };
}

// Loads a serialized state into the graph, applies decisions, resumes, and reports what happened.
export async function resume(spec, stateText, decisions) {
  const model = new ScriptedModel(spec.resume_turns, { idPrefix: 'resume' });
  const { start, executed } = buildGraph(spec, model);
  const state = await RunState.fromString(start, stateText);
  applyDecisions(state, decisions);
  const tracesBefore = startedTraces.length;
  const result = await run(start, state, { maxTurns: spec.max_turns });
  const interrupted = result.interruptions.length > 0;
  return {
    final_output: result.finalOutput ?? null,
    executed,
    model_inputs: model.calls,
    usage: usageTotals(result.state.usage),
    context: result.runContext.context,
    last_agent: result.lastAgent?.name ?? null,
    trace_id: startedTraces.slice(tracesBefore)[0] ?? null,
    interruptions: result.interruptions.map((i) => i.rawItem.callId),
    state: interrupted ? result.state.toString() : null,
  };
}

// Milliseconds each of `repeat` RunState.fromString calls takes on the same state text.
export async function loadTimes(spec, stateText, repeat) {
  const { start } = buildGraph(spec, new ScriptedModel([]));
  const times = [];
  for (let i = 0; i < repeat; i += 1) {
    const began = performance.now();
    await RunState.fromString(start, stateText);
    times.push(performance.now() - began);
  }
  return times;
}
