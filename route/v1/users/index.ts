/** /v1/users: registration, presence, the online list, and the admin kick. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { catalogue, errors } from '../../../errors.ts'
import type { RouteContext } from '../../context.ts'
import * as schema from './schema.ts'
import { isListed } from '../../../adapters/discovery/listed.ts'

const users: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { accounts, presence, discovery } = ctx.adapters
  // A crashed broker's entries live until their TTL runs out, but the user is not reachable once
  // discovery drops the broker: read them as offline, as pushes and logins already do (route/push-path.ts).
  const listed = (brokerId: string) => isListed(discovery, brokerId)

  app.post('/users', { schema: schema.register }, async (req, reply) => {
    const { userId, userName, created } = await accounts.register(req.body.userName)
    return reply.code(created ? 201 : 200).send({ userId, userName })
  })

  app.get('/users/online', { schema: schema.online }, async (req) => {
    const page = await presence.users.list(req.query.cursor, req.query.limit ?? 100)
    return {
      items: page.items.filter((e) => listed(e.brokerId)).map((e) => ({ userId: Number(e.id), userName: e.name ?? '', brokerId: e.brokerId })),
      ...(page.next ? { next: page.next } : {}),
    }
  })

  app.get('/users/:userId/presence', { schema: schema.presence }, async (req) => {
    const { userId } = req.params
    const entry = await presence.users.get(String(userId))
    if (entry && listed(entry.brokerId)) return { online: true, brokerId: entry.brokerId, since: entry.since }
    if (!(await accounts.get(userId))) throw new errors.UserNotFound(userId)
    return { online: false }
  })

  app.delete('/users/:userId/connection', { schema: schema.kick }, async (req) => {
    const { userId } = req.params
    const entry = await presence.users.get(String(userId))
    if (!entry) throw new errors.UserOffline(userId)
    const kicked = await app.brokers.kick(entry.brokerId, {
      userId, connId: entry.connId, code: catalogue.AdminKick.code, reason: 'Disconnected by the operator',
    })
    // No broker answered for this connection: the entry is stale (crashed broker), so clear it
    // rather than let it block the user's next login until its TTL runs out.
    if (!kicked) await presence.users.release(String(userId), entry.connId)
    return { kicked }
  })
}

export default users
