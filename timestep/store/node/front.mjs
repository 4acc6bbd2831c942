// The embedded server's front door: a small process of its own that accepts connections on the unix socket.
//
// PGLite runs a statement on the server's main thread, which cannot read a socket until the statement
// ends. So that a cancel request is answered at once, this process reads the first message of every
// connection: a cancel request is passed on to the server and its connection closed straight away; a
// startup message is handed over, with its socket, to the server, which serves the client from then on.
// This process closes its copy of the socket before it tells the server to answer the startup message:
// until then the client sends nothing more, so no byte of it can be read here.
//
// Usage (forked by launcher.mjs, with an IPC channel): node front.mjs SOCKET_PATH

import net from 'node:net'
import { CANCEL_REQUEST, GSSENC_REQUEST, PROTOCOL_3_0, SSL_REQUEST, errorResponse, splitFirstMessage } from './wire.mjs'

const FIRST_MESSAGE_TIMEOUT_MS = 10_000
const [socketPath] = process.argv.slice(2)
let handedOver = 0

const server = net.createServer((socket) => {
  let buffer = Buffer.alloc(0)
  socket.setTimeout(FIRST_MESSAGE_TIMEOUT_MS, () => socket.destroy())
  socket.on('error', () => socket.destroy())
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk])
    for (;;) {
      let first
      try {
        first = splitFirstMessage(buffer)
      } catch (err) {
        socket.end(errorResponse('08P01', err.message, { severity: 'FATAL' }))
        return
      }
      if (!first) return
      if (first.code === SSL_REQUEST || first.code === GSSENC_REQUEST) {
        socket.write('N') // no encryption on a unix socket
        buffer = first.rest
        continue
      }
      if (first.code === CANCEL_REQUEST && first.packet.length === 16) {
        // When it was sent (one monotonic clock for every process of the machine): the server may read it
        // only after a long statement, when the client has sent its next one, which it must not cancel.
        const sentAt = String(process.hrtime.bigint())
        process.send({ cancel: { pid: first.packet.readInt32BE(8), secret: first.packet.readInt32BE(12), sentAt } })
        socket.destroy()
        return
      }
      if (first.code !== PROTOCOL_3_0) {
        socket.end(errorResponse('0A000', `unsupported frontend protocol ${first.code >> 16}.${first.code & 0xffff}`, { severity: 'FATAL' }))
        return
      }
      socket.pause()
      socket.removeAllListeners('data')
      socket.setTimeout(0)
      const token = ++handedOver
      process.send({ client: buffer.toString('base64'), token }, socket, { keepOpen: true }, () => {
        socket.destroy()
        process.send({ released: token })
      })
      return
    }
  })
})

process.on('message', (command) => {
  if (command === 'listen') server.listen(socketPath, () => process.send({ listening: true }))
})
process.on('disconnect', () => process.exit(0)) // the server is gone
server.on('error', (err) => {
  console.error(`timestep: the front process cannot listen on ${socketPath}: ${err.message}`)
  process.exit(1)
})
