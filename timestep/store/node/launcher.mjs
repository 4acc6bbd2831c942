// Serves one PGLite data directory on a unix socket until no client has been connected for a while.
//
// Usage: node launcher.mjs PGDATA SOCKET_PATH IDLE_TIMEOUT_MS [MAX_CLIENTS]
// The process that starts this one holds an exclusive OS lock on the data directory and passes it
// down as an inherited file descriptor: the lock lives exactly as long as this process.
//
// Every client gets PostgreSQL's semantics as far as one backend allows (backend.mjs, client.mjs); the
// front process (front.mjs) accepts connections, so that cancel requests are answered while a statement runs.

import { fork } from 'node:child_process'
import fs from 'node:fs'
import { randomInt } from 'node:crypto'
import { Backend } from './backend.mjs'
import { Client } from './client.mjs'
import { NotAClusterError, ensureDataDirectory, makePrivate, openDatabase } from './database.mjs'
import {
  PROTOCOL_3_0,
  ProtocolError,
  Reader,
  authenticationOk,
  backendKeyData,
  cstring,
  errorResponse,
  int32,
  message,
  readyForQuery,
  splitFirstMessage,
  startupParameters,
} from './wire.mjs'

const EXIT_CANNOT_OPEN = 3 // embedded_server.py reports it as a corrupt data directory
process.umask(0o077) // every file, directory and socket the server makes is its user's alone
const [pgdata, socketPath, idleArg, maxArg] = process.argv.slice(2)
const idleTimeoutMs = Number(idleArg)
const maxClients = maxArg === undefined ? 256 : Number(maxArg)
if (!pgdata || !socketPath || !(idleTimeoutMs > 0) || !(maxClients > 0)) {
  console.error('usage: node launcher.mjs PGDATA SOCKET_PATH IDLE_TIMEOUT_MS [MAX_CLIENTS]')
  process.exit(2)
}
const log = (text) => console.log(`${new Date().toISOString()} timestep: ${text}`)
const fatal = (text) => {
  console.error(`${new Date().toISOString()} timestep: ${text}`)
  process.exit(1)
}

let db
try {
  const created = ensureDataDirectory(pgdata)
  if (created) {
    log(
      `created ${pgdata} ${created.fromTemplate ? 'from the template' : 'with initdb'} in ${created.seconds} s; ` +
        `peak resident memory ${created.childPeakMib} MiB in the creating process, ${created.ownMib} MiB in the server`,
    )
  }
  db = await openDatabase(pgdata)
  makePrivate(pgdata) // PGLite writes some files (pg_internal.init) 0644 while it starts
} catch (err) {
  console.error(`timestep: cannot open PGLite data directory ${pgdata}: ${err instanceof NotAClusterError ? err.message : (err?.stack ?? err)}`)
  process.exit(EXIT_CANNOT_OPEN)
}

const backend = new Backend(db, log, (err) => fatal(`PGLite failed: ${err?.stack ?? err}`))
const reportedParameters = parameterStatuses()
const clients = new Map()
let nextClientId = 1
let idleSince = Date.now()

/** The ParameterStatus values PGLite reports to a new session. */
function parameterStatuses() {
  const startup = Buffer.concat([cstring('user'), cstring('postgres'), cstring('database'), cstring('postgres'), Buffer.from([0])])
  const output = backend.exec(Buffer.concat([int32(startup.length + 8, PROTOCOL_3_0), startup]))
  const statuses = new Map()
  for (let offset = 0; offset < output.length; offset += 1 + output.readInt32BE(offset + 1)) {
    if (output[offset] !== 'S'.charCodeAt(0)) continue
    const reader = new Reader(output.subarray(offset, offset + 1 + output.readInt32BE(offset + 1)))
    statuses.set(reader.cstring(), reader.cstring())
  }
  return statuses
}

/** The session settings a startup packet asks for (PostgreSQL applies them; so does this server, lazily). */
function startupSettings(parameters) {
  const settings = {}
  for (const [name, value] of Object.entries(parameters)) {
    if (!['user', 'database', 'replication', 'options', 'client_encoding'].includes(name)) settings[name.toLowerCase()] = value
  }
  for (const match of (parameters.options ?? '').matchAll(/(?:-c\s*|--)([\w.]+)=((?:\\.|\S)*)/g)) {
    settings[match[1].toLowerCase().replaceAll('-', '_')] = match[2].replaceAll(/\\(.)/g, '$1')
  }
  return settings
}

function accept(socket, bytes) {
  socket.on('error', () => socket.destroy())
  const first = splitFirstMessage(bytes)
  const parameters = startupParameters(first.packet)
  const fail = (code, text) => socket.end(errorResponse(code, text, { severity: 'FATAL' }))
  if (clients.size >= maxClients) return fail('53300', 'sorry, too many clients already')
  const encoding = (parameters.client_encoding ?? 'UTF8').toUpperCase().replace('-', '')
  if (encoding !== 'UTF8' && encoding !== 'UNICODE') {
    return fail('0A000', `client_encoding ${parameters.client_encoding} is not supported: the embedded store speaks UTF8`)
  }
  const settings = startupSettings(parameters)
  const id = nextClientId
  nextClientId = nextClientId >= 0x7fffffff ? 1 : nextClientId + 1
  const client = new Client({ id, secret: randomInt(0x7fffffff), socket, backend, settings })
  clients.set(id, client)
  const statuses = [...reportedParameters].map(([name, value]) =>
    message('S', name, settings[name.toLowerCase()] ?? value),
  )
  socket.write(Buffer.concat([authenticationOk(), ...statuses, backendKeyData(id, client.secret), readyForQuery('I')]))
  socket.on('data', (chunk) => {
    try {
      client.receive(chunk)
    } catch (err) {
      client.fail(err instanceof ProtocolError ? err.message : `invalid input: ${err.message}`)
    }
  })
  socket.on('close', () => {
    clients.delete(id)
    backend.remove(client)
    if (!clients.size) idleSince = Date.now()
  })
  if (first.rest.length) client.receive(first.rest)
}

const front = fork(new URL('./front.mjs', import.meta.url), [socketPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const handedOver = new Map() // sockets the front process sent, until it has closed its own copy
front.on('message', (msg, handle) => {
  if (msg.listening) log(`serving ${pgdata} on ${socketPath} (pid ${process.pid})`)
  else if (msg.cancel) {
    const client = clients.get(msg.cancel.pid)
    if (client && client.secret === msg.cancel.secret) backend.cancel(client, BigInt(msg.cancel.sentAt))
  } else if (msg.client && handle) handedOver.set(msg.token, [handle, Buffer.from(msg.client, 'base64')])
  else if (msg.released && handedOver.has(msg.released)) {
    accept(...handedOver.get(msg.released))
    handedOver.delete(msg.released)
  }
})
front.on('exit', (code, signal) => {
  if (!stopping) fatal(`the front process exited (${code ?? signal}); stopping`)
})
front.send('listen')

process.on('uncaughtException', (err) => fatal(`stopping after an internal error: ${err?.stack ?? err}`))

let stopping = false
async function shutdown(reason) {
  if (stopping) return
  stopping = true
  log(`stopping (${reason})`)
  front.kill()
  fs.rmSync(socketPath, { force: true })
  for (const client of clients.values()) client.socket.destroy()
  try {
    await db.close()
  } finally {
    process.exit(0)
  }
}

setInterval(() => {
  if (clients.size) idleSince = Date.now()
  else if (Date.now() - idleSince >= idleTimeoutMs) shutdown('idle')
}, Math.max(50, Math.min(1000, idleTimeoutMs / 4)))

process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
