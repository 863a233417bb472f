/**
 * Child process: the fair reference for REST push — the smallest Node program doing what CIM
 * Relay's `POST /v1/push/users/{userId}` does for an online user. fastify with the route's own
 * TypeBox schema (pushUser, the same validation and response serialiser), a `Map<userId, socket>`
 * filled by the CIM clients' LOGIN frames on a plain net server, and the push written to the
 * socket as one protobuf frame of the shape the broker writes to a proto=1 client (qos 0).
 *
 * What it leaves out is what ours does on top: accounts, the presence adapter, the bus
 * request/reply to a broker, the broker's session state, inbox and limits (docs/architecture.md).
 */
import net from 'node:net'
import Fastify from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { BaseCommand, FrameDecoder, decodeRequest, encodeResponse } from '../../proto/codec.ts'
import { PONG, loginReplyFrame } from '../../broker/cim/frames.ts'
import { pushUser } from '../../route/v1/push/schema.ts'
import { SYSTEM_SENDER } from '../../route/v1/push/input.ts'
import { ErrorBody } from '../../route/schemas.ts'
import { listenOnLoopback, serve, sleep } from '../lib/ipc.ts'

/** The logged-in clients. A second login of a user replaces the first, as repeat-login kick-old does. */
const users = new Map<number, net.Socket>()

// Nagle off, as the broker does: otherwise a push waits for the previous one's ACK.
const cim = net.createServer({ noDelay: true }, (socket) => {
  const decoder = new FrameDecoder()
  let userId = 0
  socket.on('data', (chunk) => {
    try {
      decoder.push(chunk, (body) => {
        const f = decodeRequest(body)
        if (f.cmd === BaseCommand.LOGIN_REQUEST && userId === 0 && f.requestId > 0) {
          userId = f.requestId
          users.set(userId, socket)
          // As the broker does: a LOGIN_REPLY only to a client that announced proto=2 (upstream sends none).
          if (f.properties.proto === '2') socket.write(loginReplyFrame(null, 'ok', 'bare-push', 60, 0))
        } else if (f.cmd === BaseCommand.PING) {
          socket.write(PONG)
        }
      })
    } catch {
      socket.destroy() // a malformed or oversized frame
    }
  })
  socket.on('error', () => { /* the close handler forgets it */ })
  socket.on('close', () => {
    if (users.get(userId) === socket) users.delete(userId)
  })
})

const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>()
app.addSchema(ErrorBody) // pushUser's error answers refer to it

app.post('/v1/push/users/:userId', { schema: pushUser }, async (req) => {
  const userId = req.params.userId
  const socket = users.get(userId)
  if (socket === undefined) return { results: [{ userId, status: 'offline' as const }] }
  // The frame the broker writes to a proto=1 client for a qos 0 push from the backend.
  socket.write(encodeResponse({
    resMsg: req.body.message, responseId: userId, cmd: BaseCommand.MESSAGE,
    properties: { ...req.body.properties, ...SYSTEM_SENDER, receiveUserId: String(userId) },
  }))
  return { results: [{ userId, status: 'delivered' as const }] }
})

serve({
  async start() {
    const { cimPort } = await listenOnLoopback(cim)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const addr = app.server.address()
    return { cimPort, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, pid: process.pid }
  },

  async waitOnline({ count, timeoutMs = 60_000 }: { count: number; timeoutMs?: number }) {
    const end = Date.now() + timeoutMs
    while (users.size < count && Date.now() < end) await sleep(25)
    return { online: users.size }
  },

  cpu() {
    return process.cpuUsage()
  },

  async close() {
    for (const s of users.values()) s.destroy()
    cim.close()
    await app.close()
  },
})
