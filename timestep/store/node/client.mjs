// One client connection of the embedded server: its messages grouped into units of work, made to run on
// the shared backend as if the backend were the client's own, and PGLite's answers made into what
// PostgreSQL would have sent this client.
//
// A unit is what a client sends before it waits for an answer: a simple Query, a FunctionCall, or an
// extended-protocol sequence through its Sync (or a Flush, after which the client keeps the backend until
// its Sync). Prepared statement names are made per client; the unnamed statement is parsed again when
// another client replaced it; statements that would change state every client shares are refused.

import {
  Reader,
  errorResponse,
  filterBackendMessages,
  message,
  readyForQuery,
  splitMessages,
  typeOf,
} from './wire.mjs'
import { inspectSql, quoteLiteral, refusalMessage, rewriteSql } from './session_effects.mjs'

const UNIT_ENDS = new Set(['S', 'Q', 'F', 'H'])
const ANSWERED_WITH_READY = new Set(['S', 'Q', 'F'])
const MAX_PENDING_BYTES = 1 << 30

/** A statement that fails like PostgreSQL's own error, used in place of one the server refuses. */
export function raiseStatement(code, text, hint) {
  const hintClause = hint ? `, HINT = ${quoteLiteral(hint)}` : ''
  return (
    `DO $timestep$BEGIN RAISE EXCEPTION USING ERRCODE = '${code}', MESSAGE = ${quoteLiteral(text)}${hintClause}; ` +
    'END$timestep$'
  )
}

export const CANCELED = ['57014', 'canceling statement due to user request']

export const closeStatement = (name) => message('C', Buffer.from('S'), name)

export class Client {
  constructor({ id, secret, socket, backend, settings }) {
    this.id = id
    this.secret = secret
    this.socket = socket
    this.backend = backend
    this.status = 'I' // the transaction status of this client's last ReadyForQuery
    this.midUnit = false // a sequence was sent without its Sync yet: the client holds the backend until then
    this.units = [] // complete units waiting for the backend
    this.partial = [] // messages of a unit still arriving
    this.partialBytes = 0
    this.inbox = Buffer.alloc(0)
    this.statements = new Set() // this client's named prepared statements, by its own names
    this.closing = [] // statements of this client's DEALLOCATE ALL, closed before its unit runs
    this.lastUnnamedParse = null
    this.settings = { names: new Set(Object.keys(settings)), saved: new Map(Object.entries(settings)), unknown: false }
    this.cancelRequested = false
    this.discarding = false // a cancelled Flush-ended unit: drop what follows through the next Sync
    this.queued = false
    this.closed = false
  }

  /** Whether the backend may pass to another client: no transaction open, no unit half done. */
  get idle() {
    return this.status === 'I' && !this.midUnit
  }

  backendName(name) {
    return `t${this.id}_${name}`
  }

  receive(chunk) {
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, chunk]) : chunk
    const { messages, rest } = splitMessages(this.inbox)
    this.inbox = rest.length ? Buffer.from(rest) : Buffer.alloc(0)
    for (const m of messages) {
      const type = typeOf(m)
      if (type === 'X') {
        this.socket.end()
        return
      }
      this.partial.push(m)
      this.partialBytes += m.length
      if (this.partialBytes > MAX_PENDING_BYTES) throw new Error('more than 1 GiB sent without a Sync')
      if (!UNIT_ENDS.has(type)) continue
      const unit = this.partial
      this.partial = []
      this.partialBytes = 0
      unit.receivedAt = process.hrtime.bigint() // a cancel request sent before it may cancel it
      if (this.discarding) this.discard(unit)
      else this.units.push(unit)
    }
    if (this.units.length) this.backend.wake(this)
  }

  /** Drops a unit after a cancelled Flush, answering the Sync that ends the discarding. */
  discard(unit) {
    if (!unit.some((m) => typeOf(m) === 'S')) return
    this.discarding = false
    this.write(readyForQuery(this.status))
  }

  /** Answers the first waiting unit with a cancellation, without running it. */
  cancelWaitingUnit() {
    const unit = this.units.shift()
    const last = typeOf(unit.at(-1))
    const reply = [errorResponse(...CANCELED)]
    if (ANSWERED_WITH_READY.has(last)) reply.push(readyForQuery(this.status))
    else {
      this.discarding = true
      while (this.discarding && this.units.length) this.discard(this.units.shift())
    }
    this.write(Buffer.concat(reply))
  }

  /**
   * What the backend runs for `unit`: the messages made per client, with what `finish` must undo.
   * When the unit uses the unnamed statement before parsing one and another client's has replaced it, this
   * client's last Parse runs again first (or, if it has none, a Close makes the use fail as PostgreSQL's
   * would). A DEALLOCATE ALL closes this client's statements first and does nothing itself; its command
   * tag is put back in the answer, where the n-th statement outcome (`terminal`) is its own.
   */
  prepare(unit) {
    const plan = { prefixed: this.usesUnnamedStatement(unit) && this.backend.unnamedOwner !== this }
    plan.terminals = 0 // statement outcomes expected before the current message's
    plan.retag = new Set() // outcomes that are a DEALLOCATE ALL's
    plan.deallocating = { statements: new Set(), portals: new Set() }
    const input = plan.prefixed ? [this.lastUnnamedParse ?? message('C', 'S', '')] : []
    for (const m of unit) input.push(this.forBackend(m, plan))
    const closes = this.closing.splice(0).map((name) => closeStatement(this.backendName(name)))
    plan.input = Buffer.concat(input)
    plan.closes = closes.length ? Buffer.concat(closes) : null
    return plan
  }

  /** True when the unit binds or describes the unnamed statement before parsing one. */
  usesUnnamedStatement(unit) {
    for (const m of unit) {
      const r = new Reader(m)
      const type = typeOf(m)
      if (type === 'P' && r.cstring() === '') return false
      if (type === 'B' && (r.cstring(), r.cstring() === '')) return true
      if (type === 'D' && r.byte() === 'S' && r.cstring() === '') return true
    }
    return false
  }

  forBackend(m, plan) {
    const r = new Reader(m)
    switch (typeOf(m)) {
      case 'Q': {
        const sql = r.cstring()
        const { rewritten, deallocations } = this.sqlForBackend(sql)
        for (const { statement } of deallocations) plan.retag.add(plan.terminals + statement)
        this.lastUnnamedParse = null // a simple query drops the unnamed statement
        return rewritten === sql ? m : message('Q', rewritten)
      }
      case 'P': {
        const name = r.cstring()
        const sql = r.cstring()
        const { rewritten, deallocations } = this.sqlForBackend(sql)
        if (deallocations.length) plan.deallocating.statements.add(name)
        else plan.deallocating.statements.delete(name)
        if (name === '') {
          const parse = rewritten === sql ? m : message('P', '', rewritten, r.rest())
          this.lastUnnamedParse = parse
          return parse
        }
        this.statements.add(name)
        return message('P', this.backendName(name), rewritten, r.rest())
      }
      case 'B': {
        const portal = r.cstring()
        const statement = r.cstring()
        if (plan.deallocating.statements.has(statement)) plan.deallocating.portals.add(portal)
        else plan.deallocating.portals.delete(portal)
        return statement === '' ? m : message('B', portal, this.backendName(statement), r.rest())
      }
      case 'E': {
        if (plan.deallocating.portals.has(r.cstring())) plan.retag.add(plan.terminals)
        plan.terminals += 1
        return m
      }
      case 'D':
      case 'C': {
        const kind = r.byte()
        const name = r.cstring()
        if (kind !== 'S' || name === '') return m
        if (typeOf(m) === 'C') this.statements.delete(name)
        return message(typeOf(m), Buffer.from(kind), this.backendName(name))
      }
      default:
        return m
    }
  }

  /** The SQL the backend runs (per-client statement names, refused statements failing); settings noted. */
  sqlForBackend(sql) {
    const effects = inspectSql(sql)
    for (const effect of effects.settings) {
      if (effect.resetAll) {
        this.settings.names.clear()
        this.settings.saved.clear()
        this.settings.unknown = false
      } else if (effect.unknown) this.settings.unknown = true
      else this.settings.names.add(effect.set)
    }
    for (const { name, statement } of effects.renames) {
      if (statement === 'prepare') this.statements.add(name)
      else if (statement === 'deallocate') this.statements.delete(name)
    }
    if (effects.deallocations.length) {
      this.closing.push(...this.statements)
      this.statements.clear()
    }
    const { deallocations } = effects
    if (!effects.renames.length && !effects.refusals.length && !deallocations.length) return { rewritten: sql, deallocations }
    const rewritten = rewriteSql(
      sql,
      effects,
      (name) => this.backendName(name),
      (reason) => {
        const { message: text, hint } = refusalMessage(reason)
        return raiseStatement('0A000', text, hint)
      },
    )
    return { rewritten, deallocations }
  }

  /** PGLite's answer to a unit as PostgreSQL would send it: one ReadyForQuery, at the end, for S, Q and F. */
  finish(unit, output, plan) {
    const answered = ANSWERED_WITH_READY.has(typeOf(unit.at(-1)))
    let first = true
    let terminal = 0
    let status = null
    let reply = filterBackendMessages(output, (type, m, isLast) => {
      const wasFirst = first
      first = false
      if (wasFirst && plan.prefixed && (type === '1' || type === '3')) return false
      if (type === 'C' || type === 'I' || type === 's' || type === 'E') {
        terminal += 1
        return type === 'C' && plan.retag.has(terminal - 1) ? message('C', 'DEALLOCATE ALL') : true
      }
      if (type !== 'Z') return true
      if (isLast) status = String.fromCharCode(m[5])
      return isLast && answered
    })
    if (plan.prefixed || unit.some((m) => typeOf(m) === 'P' && new Reader(m).cstring() === '')) {
      this.backend.unnamedOwner = this
    }
    if (unit.some((m) => typeOf(m) === 'Q')) this.backend.unnamedOwner = null
    if (!answered) {
      // A Flush alone, after a Sync, starts nothing: only a sequence sent since the last Sync holds the backend.
      this.midUnit ||= unit.some((m) => typeOf(m) !== 'H')
      return reply
    }
    this.midUnit = false
    if (status === null) {
      // PGLite answered without a ReadyForQuery: give the client the status the backend is in.
      status = this.backend.transactionStatus()
      reply = Buffer.concat([reply, readyForQuery(status)])
    }
    this.status = status
    return reply
  }

  /** Ends the connection over a protocol violation; the backend is released as if the client had left. */
  fail(text) {
    if (!this.closed) this.socket.end(errorResponse('08P01', text, { severity: 'FATAL' }))
    this.backend.remove(this)
  }

  write(data) {
    if (!this.closed && data.length && this.socket.writable) this.socket.write(data)
  }
}
