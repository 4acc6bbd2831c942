// One Node client process of the store isolation test (tests/store/test_isolation.py), with node-postgres.
//
// Usage: node isolation_worker.mjs LOCATION ROLE ITERATIONS
// Roles: params (bound parameters), named (a named prepared statement), transaction:NAME (short
// transactions), failing (a failing statement, then a normal one). Prints one JSON line like the Python
// worker: operations, errors, wrong answers.
import { connect } from './store.mjs';

const [location, role, iterationsArg] = process.argv.slice(2);
const iterations = Number(iterationsArg);
const [kind, name] = role.split(':');
const tally = { ops: 0, errors: [], wrong: [] };

class Wrong extends Error {}
function expect(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Wrong(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}

const ops = {
  async params(client, i) {
    const { rows } = await client.query({ text: 'SELECT $1::text AS a, $2::int + 1 AS b', values: [`p${i}`, i], rowMode: 'array' });
    expect(rows, [[`p${i}`, i + 1]], 'params');
  },
  async named(client, i) {
    const { rows } = await client.query({ name: 'double', text: 'SELECT $1::int * 2', values: [i], rowMode: 'array' });
    expect(rows, [[2 * i]], 'named statement');
  },
  async transaction(client, i) {
    await client.query('BEGIN');
    try {
      await client.query('INSERT INTO isolation_probe (worker, i) VALUES ($1, $2)', [name, i]);
      const { rows } = await client.query({ text: 'SELECT count(*)::int FROM isolation_probe WHERE worker = $1', values: [name], rowMode: 'array' });
      expect(rows, [[i + 1]], 'rows seen in the transaction');
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  },
  async failing(client, i) {
    let failed = false;
    try {
      await client.query('SELECT 1 / $1::int', [0]);
    } catch (err) {
      failed = err.code === '22012';
      if (!failed) throw err;
    }
    if (!failed) throw new Wrong('a division by zero succeeded');
    const { rows } = await client.query({ text: 'SELECT $1::int * 3', values: [i], rowMode: 'array' });
    expect(rows, [[3 * i]], 'after a failure');
  },
};

const client = await connect(location);
for (let i = 0; i < iterations; i++) {
  tally.ops += 1;
  try {
    await ops[kind](client, i);
  } catch (err) {
    (err instanceof Wrong ? tally.wrong : tally.errors).push(String(err.message ?? err));
  }
}
await client.end();
console.log(JSON.stringify({
  ops: tally.ops, errors: tally.errors.length, wrong: tally.wrong.length,
  first_errors: tally.errors.slice(0, 5), first_wrong: tally.wrong.slice(0, 5),
}));
