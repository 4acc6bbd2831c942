// What a client's SQL does to the one PostgreSQL session that every client of the embedded store shares.
//
// PGLite is a single backend, so state that outlives a transaction would be seen by every client. This
// module reads a statement's words (skipping literals, quoted identifiers and comments) to find:
//   - session settings (SET, RESET, set_config): the server keeps them per client;
//   - SQL-level prepared statement names (PREPARE, EXECUTE, DEALLOCATE): renamed per client, and
//     DEALLOCATE ALL (which psycopg sends after a rollback) made to close the client's statements only;
//   - state that cannot be kept per client (temporary tables, LISTEN, session advisory locks, WITH HOLD
//     cursors, DISCARD, COPY FROM STDIN, which stops PGLite): refused with SQLSTATE 0A000.
// Statements inside functions and DO blocks are not read: settings they change are reset when another
// client takes the backend, and the README lists what they must not do.

const TOKEN =
  /(\s+)|(--[^\n]*)|(\/\*[\s\S]*?\*\/)|([eE]'(?:[^'\\]|\\[\s\S]|'')*')|('(?:[^']|'')*')|(\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$[\s\S]*?\$\7\$)|("(?:[^"]|"")*")|([A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*)|([\s\S])/y

const SESSION_ADVISORY_LOCKS = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
])

// The statements that cannot be kept per client, each with the way around it.
const REFUSALS = {
  listen: ['LISTEN and UNLISTEN', 'use a PostgreSQL server (TIMESTEP_DATABASE_URL) for notifications'],
  temp: [
    'temporary tables that outlive their transaction',
    'create them inside a transaction with ON COMMIT DROP, or use a PostgreSQL server',
  ],
  advisory: ['session-level advisory locks', 'use pg_advisory_xact_lock inside a transaction'],
  hold: ['cursors WITH HOLD', 'use a cursor without HOLD inside a transaction'],
  discard: ['DISCARD (other than DISCARD PLANS)', 'use DEALLOCATE ALL and RESET ALL instead'],
  copyIn: ['COPY FROM STDIN', 'insert the rows with INSERT statements'],
}

/** The words and literals of `sql`, without whitespace and comments, with their offsets. */
export function tokenize(sql) {
  const tokens = []
  TOKEN.lastIndex = 0
  let match
  while (TOKEN.lastIndex < sql.length && (match = TOKEN.exec(sql))) {
    if (match[1] !== undefined || match[2] !== undefined || match[3] !== undefined) continue
    const text = match[0]
    const kind = match[9] !== undefined ? 'word' : match[8] !== undefined ? 'ident' : match[10] !== undefined ? 'punct' : 'literal'
    tokens.push({ kind, text, lower: kind === 'word' ? text.toLowerCase() : text, start: match.index, end: TOKEN.lastIndex })
  }
  return tokens
}

/** Each statement's tokens, split at top-level semicolons. */
function statements(tokens) {
  const result = []
  let current = []
  for (const token of tokens) {
    if (token.kind === 'punct' && token.text === ';') {
      if (current.length) result.push(current)
      current = []
    } else current.push(token)
  }
  if (current.length) result.push(current)
  return result
}

/** A setting's or statement's name as PostgreSQL reads it: unquoted words fold to lower case. */
function identifierName(token) {
  if (!token) return null
  if (token.kind === 'word') return token.lower
  if (token.kind === 'ident') return token.text.slice(1, -1).replaceAll('""', '"')
  return null
}

function stringLiteral(token) {
  if (!token || token.kind !== 'literal' || !token.text.startsWith("'")) return null
  return token.text.slice(1, -1).replaceAll("''", "'")
}

/** A dotted setting name (`a.b`) starting at `tokens[i]`. */
function settingName(tokens, i) {
  const parts = [identifierName(tokens[i])]
  while (tokens[i + 1]?.text === '.' && identifierName(tokens[i + 2])) {
    parts.push(identifierName(tokens[i + 2]))
    i += 2
  }
  return parts.every(Boolean) ? parts.join('.').toLowerCase() : null
}

const SET_FORMS = { time: 'timezone', schema: 'search_path', names: 'client_encoding', role: 'role', xml: 'xmloption' }

function settingsOfSet(tokens) {
  let i = 1
  const second = tokens[i]?.lower
  if (second === 'local' || second === 'transaction' || second === 'constraints') return []
  if (second === 'session') {
    const third = tokens[i + 1]?.lower
    if (third === 'authorization') return [{ set: 'session_authorization' }]
    if (third === 'characteristics') {
      return ['default_transaction_isolation', 'default_transaction_read_only', 'default_transaction_deferrable'].map(
        (set) => ({ set }),
      )
    }
    i += 1
  }
  const form = SET_FORMS[tokens[i]?.lower]
  if (form && tokens[i + 1]?.text !== '=' && tokens[i + 1]?.lower !== 'to') return [{ set: form }]
  const name = settingName(tokens, i)
  return name ? [{ set: name }] : [{ unknown: true }]
}

function settingsOfReset(tokens) {
  const second = tokens[1]?.lower
  if (second === 'all') return [{ resetAll: true }]
  if (second === 'session') return [{ set: 'session_authorization' }]
  const form = SET_FORMS[second]
  if (form) return [{ set: form }]
  const name = settingName(tokens, 1)
  return name ? [{ set: name }] : [{ unknown: true }]
}

const sequence = (tokens, ...words) =>
  tokens.some((_, i) => words.every((word, k) => tokens[i + k]?.lower === word && tokens[i + k].kind === 'word'))

function createsTemporaryObject(tokens, first) {
  if (first === 'create') {
    let i = 1
    if (tokens[i]?.lower === 'or' && tokens[i + 1]?.lower === 'replace') i += 2
    if (tokens[i]?.lower === 'global' || tokens[i]?.lower === 'local') i += 1
    if (tokens[i]?.lower === 'temp' || tokens[i]?.lower === 'temporary') return true
    return tokens.some((t, k) => identifierName(t) === 'pg_temp' && tokens[k + 1]?.text === '.')
  }
  return (first === 'select' || first === 'with') && (sequence(tokens, 'into', 'temp') || sequence(tokens, 'into', 'temporary'))
}

/** Why one statement is refused (a REFUSALS key), or null. */
function refusalOf(tokens, first) {
  if (first === 'listen' || first === 'unlisten') return 'listen'
  if (first === 'discard' && tokens[1]?.lower !== 'plans') return 'discard'
  if (first === 'declare' && sequence(tokens, 'with', 'hold')) return 'hold'
  if (first === 'copy' && sequence(tokens, 'stdin')) return 'copyIn'
  if (createsTemporaryObject(tokens, first) && !sequence(tokens, 'on', 'commit', 'drop')) return 'temp'
  const locks = tokens.some(
    (t, i) => t.kind === 'word' && SESSION_ADVISORY_LOCKS.has(t.lower) && tokens[i + 1]?.text === '(',
  )
  return locks ? 'advisory' : null
}

/** The token naming an SQL-level prepared statement, for PREPARE, EXECUTE and DEALLOCATE. */
function preparedNameToken(tokens, first) {
  if (first === 'prepare' && tokens[1]?.lower !== 'transaction') return tokens[1]
  if (first === 'execute') return tokens[1]
  if (first === 'deallocate') return tokens[1]?.lower === 'prepare' ? tokens[2] : tokens[1]
  return null
}

const isDeallocateAll = (nameToken, first) => first === 'deallocate' && nameToken?.kind === 'word' && nameToken.lower === 'all'

function setConfigCalls(tokens) {
  const effects = []
  tokens.forEach((t, i) => {
    if (t.kind !== 'word' || t.lower !== 'set_config' || tokens[i + 1]?.text !== '(') return
    const name = stringLiteral(tokens[i + 2])
    effects.push(name ? { set: name.toLowerCase() } : { unknown: true })
  })
  return effects
}

/**
 * What `sql` does to the shared session.
 * Returns `{ settings, renames, refusals, deallocations }`: settings touched in order (`{set}`, `{resetAll}`,
 * `{unknown}`), spans of prepared statement names to rename (with the statement, `prepare`, `execute` or
 * `deallocate`), spans of statements to refuse with their reason, and spans of DEALLOCATE ALL statements
 * (with their position among the statements of `sql`).
 */
export function inspectSql(sql) {
  const result = { settings: [], renames: [], refusals: [], deallocations: [] }
  if (!/set|reset|listen|discard|declare|copy|prepare|execute|deallocate|temp|advisory|set_config/i.test(sql)) {
    return result
  }
  for (const [index, tokens] of statements(tokenize(sql)).entries()) {
    const first = tokens[0].lower
    const refusal = refusalOf(tokens, first)
    if (refusal) {
      result.refusals.push({ start: tokens[0].start, end: tokens.at(-1).end, reason: refusal })
      continue
    }
    if (first === 'set') result.settings.push(...settingsOfSet(tokens))
    else if (first === 'reset') result.settings.push(...settingsOfReset(tokens))
    result.settings.push(...setConfigCalls(tokens))
    const nameToken = preparedNameToken(tokens, first)
    const name = identifierName(nameToken)
    if (isDeallocateAll(nameToken, first)) {
      result.deallocations.push({ start: tokens[0].start, end: tokens.at(-1).end, statement: index })
    }
    else if (name) result.renames.push({ start: nameToken.start, end: nameToken.end, name, statement: first })
  }
  return result
}

/** The message and hint of a refusal. */
export function refusalMessage(reason) {
  const [what, hint] = REFUSALS[reason]
  return {
    message: `${what} are not supported by the embedded store: its clients share one PostgreSQL session`,
    hint,
  }
}

/** A statement that does nothing: what DEALLOCATE ALL becomes once the client's statements are closed. */
const NOTHING = 'DO $timestep$BEGIN END$timestep$'

/**
 * `sql` with prepared statement names renamed by `rename(name)`, refused statements replaced by `raise`,
 * and DEALLOCATE ALL by a statement that does nothing.
 */
export function rewriteSql(sql, { renames, refusals, deallocations }, rename, raise) {
  const edits = [
    ...renames.map((r) => ({ ...r, text: quoteIdentifier(rename(r.name)) })),
    ...refusals.map((r) => ({ ...r, text: raise(r.reason) })),
    ...deallocations.map((r) => ({ ...r, text: NOTHING })),
  ].sort((a, b) => a.start - b.start)
  let out = ''
  let at = 0
  for (const edit of edits) {
    out += sql.slice(at, edit.start) + edit.text
    at = edit.end
  }
  return out + sql.slice(at)
}

export const quoteIdentifier = (name) => `"${name.replaceAll('"', '""')}"`
export const quoteLiteral = (text) => `'${text.replaceAll("'", "''")}'`
