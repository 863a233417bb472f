/** /v1/users: registration, presence, the online list, and the admin kick. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../../errors.ts'
import type { RouteContext } from '../../context.ts'
import * as schema from './schema.ts'
import { livePresence } from '../../../adapters/presence/live.ts'
import { disconnectUser } from '../../kick.ts'

const users: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { accounts } = ctx.adapters
  // A crashed broker's users read as offline here, as they do for pushes and logins.
  const online = livePresence(ctx.adapters).users

  app.post('/users', { schema: schema.register }, async (req, reply) => {
    const { userId, userName, created } = await accounts.register(req.body.userName)
    return reply.code(created ? 201 : 200).send({ userId, userName })
  })

  app.get('/users/online', { schema: schema.online }, async (req) => {
    const page = await online.list(req.query.cursor, req.query.limit ?? 100)
    return {
      items: page.items.map((e) => ({ userId: Number(e.id), userName: e.name ?? '', brokerId: e.brokerId })),
      ...(page.next ? { next: page.next } : {}),
    }
  })

  app.get('/users/:userId/presence', { schema: schema.presence }, async (req) => {
    const { userId } = req.params
    const entry = await online.get(String(userId))
    if (entry) return { online: true, brokerId: entry.brokerId, since: entry.since }
    if (!(await accounts.get(userId))) throw new errors.UserNotFound(userId)
    return { online: false }
  })

  app.delete('/users/:userId/connection', { schema: schema.kick }, async (req) => {
    const { userId } = req.params
    const kicked = await disconnectUser(app.brokers, ctx, userId, 'Disconnected by the operator')
    if (kicked === undefined) throw new errors.UserOffline(userId)
    return { kicked }
  })
}

export default users
