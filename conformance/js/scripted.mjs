// A scripted implementation of the @openai/agents Model interface: replays the turns of a scenario
// spec with the same deterministic ids the Python ScriptedModel assigns, and records every request.
import { Usage } from '@openai/agents';

export function turnUsage(usage = {}) {
  const input = usage.input_tokens ?? 0;
  const output = usage.output_tokens ?? 0;
  return new Usage({
    requests: 1,
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output,
    inputTokensDetails: { cached_tokens: usage.cached_tokens ?? 0 },
    outputTokensDetails: { reasoning_tokens: usage.reasoning_tokens ?? 0 },
  });
}

// The TypeScript SDK's default handoff tool name (defaultHandoffToolName): unlike Python it keeps case.
export function handoffToolName(agentName) {
  return `transfer_to_${agentName.replace(/\s/g, '_').replace(/[^a-zA-Z0-9]/g, '_')}`;
}

function outputItem(spec, prefix, turn, pos) {
  if ('text' in spec) {
    return {
      type: 'message',
      id: spec.item_id ?? `msg_${prefix}_${turn}_${pos}`,
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: spec.text }],
    };
  }
  const name = 'tool_call' in spec ? spec.tool_call : handoffToolName(spec.handoff);
  return {
    type: 'function_call',
    id: spec.item_id ?? `fc_${prefix}_${turn}_${pos}`,
    callId: spec.call_id ?? `call_${prefix}_${turn}_${pos}`,
    name,
    arguments: spec.arguments ?? '{}',
    status: 'completed',
  };
}

export class ScriptedModel {
  constructor(turns, { idPrefix = 'scripted' } = {}) {
    this.turns = turns;
    this.idPrefix = idPrefix;
    this.next = 0;
    this.calls = [];
  }

  serve(request) {
    this.calls.push(structuredClone(request.input));
    if (this.next >= this.turns.length) {
      throw new Error(
        `ScriptedModel(${this.idPrefix}) was called ${this.next + 1} times but only ${this.turns.length} turns were scripted`,
      );
    }
    const index = this.next++;
    const turn = this.turns[index];
    return {
      usage: turnUsage(turn.usage),
      output: turn.items.map((item, pos) => outputItem(item, this.idPrefix, index, pos)),
      responseId: `resp_${this.idPrefix}_${index}`,
    };
  }

  async getResponse(request) {
    return this.serve(request);
  }

  async *getStreamedResponse(request) {
    const response = this.serve(request);
    yield { type: 'response_started' };
    for (const item of response.output) {
      if (item.type === 'message') yield { type: 'output_text_delta', delta: item.content[0].text };
    }
    yield {
      type: 'response_done',
      response: {
        id: response.responseId,
        usage: {
          requests: 1,
          inputTokens: response.usage.inputTokens,
          outputTokens: response.usage.outputTokens,
          totalTokens: response.usage.totalTokens,
          inputTokensDetails: response.usage.inputTokensDetails[0],
          outputTokensDetails: response.usage.outputTokensDetails[0],
        },
        output: response.output,
      },
    };
  }
}
