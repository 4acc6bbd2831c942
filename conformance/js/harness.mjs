// Drives the real TypeScript SDK for a batch of jobs, one Node process per batch (start-up is slow).
// stdin:  [{"id", "spec": {scenario}, "state": "<RunState JSON text>", "decisions": [...]}   resume a state
//          | {"id", "mode": "interrupt", "spec": {scenario}}                            run to the interruption
//          | {"id", "mode": "load", "spec", "state", "repeat": n}, ...]      time RunState.fromString (ms each)
// stdout: [{"id", "ok": true, "result": {...}} | {"id", "ok": false, "error": "..."}, ...]
import { loadTimes, resume, runToInterruption } from './scenario.mjs';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const jobs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const results = [];
for (const job of jobs) {
  try {
    let result;
    if (job.mode === 'interrupt') result = { state: JSON.stringify(await runToInterruption(job.spec)) };
    else if (job.mode === 'load') result = { ms: await loadTimes(job.spec, job.state, job.repeat) };
    else result = await resume(job.spec, job.state, job.decisions);
    results.push({ id: job.id, ok: true, result });
  } catch (error) {
    results.push({ id: job.id, ok: false, error: `${error?.name ?? 'Error'}: ${error?.message ?? error}` });
  }
}
process.stdout.write(JSON.stringify(results));
