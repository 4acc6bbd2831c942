// Writes conformance/fixtures/typescript/<scenario>.json: each scenario run natively in the TypeScript
// SDK to its interruption. Usage: node gen_fixtures.mjs [output directory]
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToInterruption } from './scenario.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const scenarios = resolve(here, '..', 'scenarios');
const out = resolve(process.argv[2] ?? join(here, '..', 'fixtures', 'typescript'));
mkdirSync(out, { recursive: true });
for (const file of readdirSync(scenarios).filter((f) => f.endsWith('.json')).sort()) {
  const spec = JSON.parse(readFileSync(join(scenarios, file), 'utf8'));
  const state = await runToInterruption(spec);
  writeFileSync(join(out, file), `${JSON.stringify(state, null, 2)}\n`);
}
