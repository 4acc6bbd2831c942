// Resumes serialized RunStates in the real TypeScript SDK, one Node process per batch.
// stdin:  [{"id": ..., "spec": {scenario}, "state": "<RunState JSON text>", "decisions": [...]}, ...]
// stdout: [{"id": ..., "ok": true, "result": {...}} | {"id": ..., "ok": false, "error": "..."}, ...]
import { resume } from './scenario.mjs';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const jobs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const results = [];
for (const job of jobs) {
  try {
    results.push({ id: job.id, ok: true, result: await resume(job.spec, job.state, job.decisions) });
  } catch (error) {
    results.push({ id: job.id, ok: false, error: `${error?.name ?? 'Error'}: ${error?.message ?? error}` });
  }
}
process.stdout.write(JSON.stringify(results));
