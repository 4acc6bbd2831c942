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

const WORD_START = /[A-Za-z_\u0080-\uffff]/
const WORD_PART = /[\w$\u0080-\uffff]/
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/y

/**
 * The words, quoted identifiers, literals and punctuation of `sql`, without whitespace and comments, with
 * their offsets. Literals are skipped with indexOf, so a statement carrying a large value costs little.
 */
export function tokenize(sql) {
  const tokens = []
  const push = (kind, start, end) => {
    const text = sql.slice(start, end)
    tokens.push({ kind, text, lower: kind === 'word' ? text.toLowerCase() : text, start, end })
  }
  let i = 0
  while (i < sql.length) {
    const c = sql[i]
    const start = i
    if (c === "'" || ((c === 'e' || c === 'E') && sql[i + 1] === "'")) {
      i = endOfString(sql, c === "'" ? i : i + 1, c !== "'")
      push('literal', start, i)
    } else if (c === '"') {
      i = endOfQuoted(sql, i, '"')
      push('ident', start, i)
    } else if (c === '-' && sql[i + 1] === '-') {
      const newline = sql.indexOf('\n', i)
      i = newline < 0 ? sql.length : newline + 1
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2)
      i = close < 0 ? sql.length : close + 2
    } else if (c === '$' && dollarTagAt(sql, i)) {
      const tag = dollarTagAt(sql, i)
      const close = sql.indexOf(tag, i + tag.length)
      i = close < 0 ? sql.length : close + tag.length
      push('literal', start, i)
    } else if (WORD_START.test(c)) {
      i += 1
      while (i < sql.length && WORD_PART.test(sql[i])) i += 1
      push('word', start, i)
    } else {
      i += 1
      if (!/\s/.test(c)) push('punct', start, i)
    }
  }
  return tokens
}

/** The dollar-quote tag (`$$`, `$name$`) starting at `i`, or null. */
function dollarTagAt(sql, i) {
  DOLLAR_TAG.lastIndex = i
  return DOLLAR_TAG.test(sql) ? sql.slice(i, DOLLAR_TAG.lastIndex) : null
}

/** The end of a quoted string starting at `i` (doubled quotes inside; backslash escapes in E'' strings). */
function endOfString(sql, i, escapes) {
  if (!escapes) return endOfQuoted(sql, i, "'")
  for (let j = sql.indexOf("'", i + 1); j >= 0; j = sql.indexOf("'", j + 1)) {
    let backslashes = 0
    while (sql[j - 1 - backslashes] === '\\') backslashes += 1
    if (backslashes % 2 === 1) continue // an escaped quote
    if (sql[j + 1] !== "'") return j + 1
    j += 1 // a doubled quote
  }
  return sql.length
}

function endOfQuoted(sql, i, quote) {
  for (let j = sql.indexOf(quote, i + 1); j >= 0; j = sql.indexOf(quote, j + 2)) {
    if (sql[j + 1] !== quote) return j + 1
  }
  return sql.length
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
