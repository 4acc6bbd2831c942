// Serves one PGLite data directory on a unix socket until no client has been connected for a while.
//
// Usage: node launcher.mjs DATA_DIR SOCKET_PATH IDLE_TIMEOUT_MS
// The process that starts this one holds an exclusive OS lock on the data directory and passes it
// down as an inherited file descriptor: the lock lives exactly as long as this process.
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const [dataDir, socketPath, idleArg] = process.argv.slice(2)
const idleTimeoutMs = Number(idleArg)
if (!dataDir || !socketPath || !Number.isFinite(idleTimeoutMs)) {
  console.error('usage: node launcher.mjs DATA_DIR SOCKET_PATH IDLE_TIMEOUT_MS')
  process.exit(2)
}

let db
try {
  db = await PGlite.create({ dataDir })
} catch (err) {
  console.error(`timestep: cannot open PGLite data directory ${dataDir}: ${err?.stack ?? err}`)
  process.exit(3)
}

const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 256 })
await server.start()
console.log(`timestep: serving ${dataDir} on ${socketPath} (pid ${process.pid})`)

let stopping = false
async function shutdown(reason) {
  if (stopping) return
  stopping = true
  console.log(`timestep: stopping (${reason})`)
  try {
    await server.stop()
    await db.close()
  } finally {
    process.exit(0)
  }
}

let idleSince = Date.now()
setInterval(() => {
  if (server.getStats().activeConnections > 0) idleSince = Date.now()
  else if (Date.now() - idleSince >= idleTimeoutMs) shutdown('idle')
}, Math.max(50, Math.min(1000, idleTimeoutMs / 4)))

process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
