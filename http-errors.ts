/**
 * Catalogue error bodies (`{statusCode, code, message}`, errors.ts) for what a node:http server
 * refuses before any handler runs: headers or a URL over Node's `maxHeaderSize` (431), a request
 * not complete within `requestTimeout` (408), a request Node cannot parse (400). Node and fastify
 * would answer these with a body of their own; the route and the broker's HTTP port answer every
 * error in the catalogue format (docs/architecture.md, Conventions).
 */
import { STATUS_CODES, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { codedError } from './errors.ts'

/** The JSON body of a coded error. */
export function errorJson(err: { statusCode: number; code: string; message: string }): string {
  return JSON.stringify({ statusCode: err.statusCode, code: err.code, message: err.message })
}

/** Writes a whole HTTP response to a socket the server gave up on, then closes it. */
function answer(socket: Duplex, err: { statusCode: number; code: string; message: string }): void {
  const body = errorJson(err)
  socket.end(`HTTP/1.1 ${err.statusCode} ${STATUS_CODES[err.statusCode]}\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/**
 * Replaces `server`'s `clientError` listeners (fastify installs its own) with one that answers in
 * the catalogue format. A reset connection or one that can no longer be written is just dropped.
 */
export function catalogueClientErrors(server: Server): void {
  server.removeAllListeners('clientError')
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
      socket.destroy()
      return
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') answer(socket, codedError('HeadersTooLarge'))
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') answer(socket, codedError('ReadTimeout', server.requestTimeout))
    else answer(socket, codedError('InvalidArgument', `malformed HTTP request (${err.code ?? err.message})`))
  })
}
