// Prints the TypeScript SDK's own invocation fingerprints, to check timestep's port of the algorithm.
// stdin: [[toolName, argumentsText], ...]   stdout: [fingerprint, ...]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const core = require.resolve('@openai/agents-core').replace(/index\.js$/, '');
const { getToolInvocationFingerprint } = require(`${core}toolInvocation.js`);

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const out = cases.map(([toolName, args]) =>
  getToolInvocationFingerprint(toolName, { type: 'function_call', callId: 'c', name: 'n', arguments: args }),
);
process.stdout.write(JSON.stringify(out));
