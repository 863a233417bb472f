/**
 * Child process: the REST baseline — a bare fastify app with one POST route of the same path and a
 * TypeBox schema for params, body and response, answering as if the push was delivered.
 */
import Fastify from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { serve } from '../lib/ipc.ts'

const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>()

app.post('/v1/push/users/:userId', {
  schema: {
    params: Type.Object({ userId: Type.Integer({ minimum: 1 }) }),
    body: Type.Object({
      message: Type.String({ maxLength: 4096 }),
      properties: Type.Optional(Type.Record(Type.String(), Type.String())),
      qos: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
    }, { additionalProperties: false }),
    response: {
      200: Type.Object({
        results: Type.Array(Type.Object({ userId: Type.Integer(), status: Type.String() })),
      }),
    },
  },
}, async (req) => ({ results: [{ userId: req.params.userId, status: 'delivered' }] }))

serve({
  async start() {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const addr = app.server.address()
    return { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, pid: process.pid }
  },
  cpu() {
    return process.cpuUsage()
  },
  async close() {
    await app.close()
  },
})
