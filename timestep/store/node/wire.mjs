// The PostgreSQL wire protocol (version 3.0), as far as a server needs it: framing the messages a client
// sends, reading the ones PGLite answers with, and building the few that the server writes itself.
// Framing is a type byte and a length, so it is written here rather than taken from a library.

export const PROTOCOL_3_0 = 196608
export const SSL_REQUEST = 80877103
export const GSSENC_REQUEST = 80877104
export const CANCEL_REQUEST = 80877102
const MAX_MESSAGE_BYTES = 1 << 30 // PostgreSQL refuses larger messages too

/** A protocol violation: the connection cannot go on. */
export class ProtocolError extends Error {}

const FRONTEND_TYPES = new Set(['B', 'C', 'd', 'c', 'f', 'D', 'E', 'H', 'F', 'P', 'Q', 'S', 'X'])

/**
 * The typed messages complete at the start of `buffer`, and the bytes left over. A message of an unknown
 * type or a malformed one is refused as soon as it is seen, as PostgreSQL does, not when its unit ends.
 */
export function splitMessages(buffer) {
  const messages = []
  let offset = 0
  while (buffer.length - offset >= 1) {
    const type = String.fromCharCode(buffer[offset])
    if (!FRONTEND_TYPES.has(type)) throw new ProtocolError(`invalid frontend message type ${buffer[offset]}`)
    if (buffer.length - offset < 5) break
    const length = buffer.readInt32BE(offset + 1)
    if (length < 4 || length > MAX_MESSAGE_BYTES) throw new ProtocolError(`invalid message length ${length}`)
    if (buffer.length - offset < length + 1) break
    const m = buffer.subarray(offset, offset + 1 + length)
    checkFormat(type, m)
    messages.push(m)
    offset += 1 + length
  }
  return { messages, rest: buffer.subarray(offset) }
}

/** Throws unless the message's body has the layout its type requires (the parts this server reads). */
function checkFormat(type, m) {
  const r = new Reader(m)
  const done = () => {
    if (r.offset !== m.length) throw new ProtocolError(`invalid '${type}' message format`)
  }
  const skip = (bytes) => {
    if (r.offset + bytes > m.length) throw new ProtocolError(`invalid '${type}' message format`)
    r.offset += bytes
  }
  const int16 = () => (skip(2), m.readInt16BE(r.offset - 2))
  switch (type) {
    case 'Q':
      return r.cstring(), done()
    case 'P':
      return r.cstring(), r.cstring(), skip(4 * int16()), done()
    case 'B': {
      r.cstring()
      r.cstring()
      skip(2 * int16())
      for (let n = int16(); n > 0; n--) {
        skip(4)
        const length = m.readInt32BE(r.offset - 4)
        if (length > 0) skip(length)
      }
      return skip(2 * int16()), done()
    }
    case 'D':
    case 'C':
      if (!['S', 'P'].includes(r.byte())) throw new ProtocolError(`invalid '${type}' message format`)
      return r.cstring(), done()
    case 'E':
      return r.cstring(), skip(4), done()
    case 'S':
    case 'H':
    case 'X':
      return done()
    default:
  }
}

/** The untyped first message (startup, SSL, GSSENC or cancel request) at the start of `buffer`, if whole. */
export function splitFirstMessage(buffer) {
  if (buffer.length < 8) return null
  const length = buffer.readInt32BE(0)
  if (length < 8 || length > 10000) throw new ProtocolError(`invalid startup packet length ${length}`)
  if (buffer.length < length) return null
  return { code: buffer.readInt32BE(4), packet: buffer.subarray(0, length), rest: buffer.subarray(length) }
}

/** The name/value pairs of a startup packet. */
export function startupParameters(packet) {
  const fields = packet.subarray(8).toString('utf8').split('\0')
  const parameters = {}
  for (let i = 0; i + 1 < fields.length && fields[i] !== ''; i += 2) parameters[fields[i]] = fields[i + 1]
  return parameters
}

export const typeOf = (message) => String.fromCharCode(message[0])

/** Reads the null-terminated strings and integers of one message body in order. */
export class Reader {
  constructor(message) {
    this.message = message
    this.offset = 5
  }
  cstring() {
    const end = this.message.indexOf(0, this.offset)
    if (end < 0) throw new ProtocolError(`unterminated string in a '${typeOf(this.message)}' message`)
    const text = this.message.toString('utf8', this.offset, end)
    this.offset = end + 1
    return text
  }
  byte() {
    return String.fromCharCode(this.message[this.offset++])
  }
  rest() {
    return this.message.subarray(this.offset)
  }
}

export function message(type, ...parts) {
  const body = Buffer.concat(parts.map((part) => (typeof part === 'string' ? cstring(part) : part)))
  const header = Buffer.alloc(5)
  header.write(type, 0, 'latin1')
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

export const cstring = (text) => Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])])

export function int32(...values) {
  const buffer = Buffer.alloc(4 * values.length)
  values.forEach((value, i) => buffer.writeInt32BE(value, 4 * i))
  return buffer
}

export const query = (sql) => message('Q', sql)
export const sync = () => message('S')
export const readyForQuery = (status) => message('Z', Buffer.from(status, 'latin1'))
export const authenticationOk = () => message('R', int32(0))
export const backendKeyData = (pid, secret) => message('K', int32(pid, secret))

/** An ErrorResponse; `severity` FATAL for errors that end the connection. */
export function errorResponse(code, text, { severity = 'ERROR', hint } = {}) {
  const fields = [`S${severity}`, `V${severity}`, `C${code}`, `M${text}`]
  if (hint) fields.push(`H${hint}`)
  return message('E', ...fields, Buffer.from([0]))
}

/**
 * Walks the messages PGLite wrote back, calling `visit(type, message, isLast)`: a message is kept when it
 * returns true, dropped when it returns false, and replaced when it returns a Buffer.
 */
export function filterBackendMessages(output, visit) {
  const kept = []
  let offset = 0
  let keptFrom = 0
  while (offset < output.length) {
    const end = offset + 1 + output.readInt32BE(offset + 1)
    const verdict = visit(String.fromCharCode(output[offset]), output.subarray(offset, end), end >= output.length)
    if (verdict !== true) {
      if (offset > keptFrom) kept.push(output.subarray(keptFrom, offset))
      if (verdict) kept.push(verdict)
      keptFrom = end
    }
    offset = end
  }
  if (keptFrom === 0) return output
  if (output.length > keptFrom) kept.push(output.subarray(keptFrom))
  return Buffer.concat(kept)
}

/** The first column of a DataRow as text (null for NULL). */
export function firstColumn(dataRow) {
  const length = dataRow.readInt32BE(7)
  return length < 0 ? null : dataRow.toString('utf8', 11, 11 + length)
}

/** The SQLSTATE and message of an ErrorResponse. */
export function errorFields(errorMessage) {
  const fields = {}
  let offset = 5
  while (offset < errorMessage.length && errorMessage[offset] !== 0) {
    const end = errorMessage.indexOf(0, offset + 1)
    fields[String.fromCharCode(errorMessage[offset])] = errorMessage.toString('utf8', offset + 1, end)
    offset = end + 1
  }
  return { code: fields.C, message: fields.M }
}
