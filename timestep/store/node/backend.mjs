// The one PGLite backend, shared by every client: who holds it, who waits, and what passes between them.
//
// A client holds the backend from the unit it starts until it is idle again (no transaction open, no
// extended-protocol sequence half sent); then the next waiting client takes it, in arrival order. When
// the backend passes to another client, the settings of the one leaving are saved and reset, and those of
// the one arriving restored. A client that leaves while it holds the backend is rolled back at once, and
// its prepared statements closed once the backend is free. Cancel requests drop a unit still waiting;
// a unit that runs finishes (WebAssembly cannot be interrupted).

import { CANCELED, closeStatement, raiseStatement } from './client.mjs'
import { errorFields, filterBackendMessages, firstColumn, message, query, sync, typeOf } from './wire.mjs'
import { quoteLiteral } from './session_effects.mjs'

const UNITS_PER_TURN = 16 // then the event loop reads sockets and cancel requests again
const NO_SUCH_STATEMENT = 'timestep: abandoned unit' // no client can name a statement this way

export class Backend {
  constructor(db, log, fatal) {
    this.db = db
    this.log = log
    this.fatal = fatal
    this.holder = null
    this.queue = []
    this.settingsOwner = null // the client whose session settings the backend has now
    this.unnamedOwner = null // the client whose Parse made the backend's unnamed statement
    this.cleanups = [] // statements of departed clients, closed when no client holds the backend
    this.cancelled = new Map() // client => when its latest cancel request was sent
    this.scheduled = false
  }

  /**
   * Runs protocol messages on PGLite and returns its answer. The streaming call, without syncToFs (a no-op
   * for a data directory on disk), runs synchronously; the plain one would also parse every answer into
   * objects that it keeps. A failure here leaves PGLite unusable: `fatal` ends the server.
   */
  exec(input) {
    const chunks = []
    const onRawData = (data) => chunks.push(Buffer.from(data)) // `data` is a view of WebAssembly memory
    this.db.execProtocolRawStream(input, { syncToFs: false, onRawData }).catch(this.fatal)
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
  }

  transactionStatus() {
    return this.db.isInTransaction() ? 'T' : 'I'
  }

  wake(client) {
    if (client !== this.holder && !client.queued) {
      client.queued = true
      this.queue.push(client)
    }
    this.schedule()
  }

  cancel(client, sentAt) {
    this.cancelled.set(client, sentAt)
    this.schedule()
  }

  schedule() {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.run())
  }

  run() {
    this.scheduled = false
    this.applyCancels()
    for (let turn = 0; turn < UNITS_PER_TURN; turn++) {
      const client = this.next()
      if (!client) return
      this.runUnit(client, client.units.shift())
    }
    this.schedule()
  }

  /** The client whose unit runs next, or null; hands the backend over when its holder is idle. */
  next() {
    const holder = this.holder
    if (holder) {
      if (!holder.idle) return holder.units.length ? holder : null
      this.holder = null
      if (holder.units.length) this.wake(holder)
    }
    this.closeDepartedStatements()
    while (this.queue.length) {
      const client = this.queue.shift()
      client.queued = false
      if (client.closed || !client.units.length) continue
      this.handSettingsTo(client)
      this.holder = client
      return client
    }
    return null
  }

  runUnit(client, unit) {
    let plan
    try {
      plan = client.prepare(unit)
    } catch (err) {
      client.fail(`invalid message: ${err.message}`)
      return
    }
    if (plan.closes) this.exec(plan.closes) // a Close needs no Sync, and answers only CloseComplete
    client.write(client.finish(unit, this.exec(plan.input), plan))
  }

  /**
   * Requests that came in while the unit they cancel was still waiting: answer them without running it. A
   * unit the client sent after the request (read while the request waited behind a running statement) is
   * not the one it cancels.
   */
  applyCancels() {
    for (const [client, sentAt] of this.cancelled) {
      if (client.closed || !client.units.length) continue // what ran is not interrupted
      if (client.units[0].receivedAt > sentAt) continue
      if (client === this.holder && !client.idle) {
        // Inside its transaction: fail it in the backend, as PostgreSQL fails a cancelled statement.
        const last = typeOf(client.units[0].at(-1))
        if (last === 'S' || last === 'Q') client.units[0] = [query(raiseStatement(...CANCELED))]
      } else client.cancelWaitingUnit()
    }
    this.cancelled.clear()
  }

  /** Saves and resets the settings of the client that had the backend, and restores `client`'s. */
  handSettingsTo(client) {
    const owner = this.settingsOwner
    if (owner === client) return
    this.settingsOwner = client
    const ownerChanged = owner !== null && (owner.settings.names.size > 0 || owner.settings.unknown)
    const statements = []
    if (ownerChanged && !owner.closed) statements.push(captureStatement(owner.settings))
    if (ownerChanged) statements.push('RESET ALL')
    const saved = client.settings.saved
    if (saved.size) {
      const calls = [...saved].map(([name, value]) => `set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, false)`)
      statements.push(`SELECT ${calls.join(', ')}`)
    }
    if (!statements.length) return
    const output = this.exec(query(statements.join('; ')))
    this.unnamedOwner = null
    let captured = !(ownerChanged && !owner.closed)
    filterBackendMessages(output, (type, m) => {
      if (type === 'D' && !captured) {
        captured = true
        owner.settings.saved = new Map(Object.entries(JSON.parse(firstColumn(m))).filter(([, v]) => v !== null))
        owner.settings.names = new Set(owner.settings.saved.keys())
        owner.settings.unknown = false
      } else if (type === 'E') {
        const { code, message: text } = errorFields(m)
        this.log(`settings of client ${client.id} could not be restored (${code}: ${text}); it starts from defaults`)
        saved.clear()
      }
      return false
    })
  }

  /** Ends what a departing client left open: its transaction at once, its statements when the backend is free. */
  remove(client) {
    if (client.closed) return
    client.closed = true
    if (this.holder === client) {
      this.holder = null
      if (client.midUnit) this.exec(Buffer.concat([message('B', '', NO_SUCH_STATEMENT, Buffer.alloc(6)), sync()]))
      if (this.db.isInTransaction()) this.exec(query('ROLLBACK'))
      this.unnamedOwner = null
    }
    if (this.unnamedOwner === client) this.unnamedOwner = null
    if (client.statements.size) {
      const closes = [...client.statements].map((name) => closeStatement(client.backendName(name)))
      this.cleanups.push(Buffer.concat([...closes, sync()]))
    }
    this.cancelled.delete(client)
    this.schedule()
  }

  closeDepartedStatements() {
    for (const cleanup of this.cleanups.splice(0)) this.exec(cleanup)
  }
}

/** A statement returning the client's session settings as one JSON object. */
function captureStatement(settings) {
  if (settings.unknown) {
    return "SELECT coalesce(json_object_agg(name, current_setting(name)), '{}')::text FROM pg_settings WHERE source = 'session'"
  }
  const names = [...settings.names].map(quoteLiteral)
  const values = names.map((name) => `current_setting(${name}, true)`)
  return `SELECT json_object(ARRAY[${names.join(', ')}]::text[], ARRAY[${values.join(', ')}]::text[])::text`
}
