/** /v1/users: registration, presence, the online list, the admin kick, login tokens, and the SDK's connect. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { catalogue, errors } from '../../../errors.ts'
import { createTokenService } from '../../../security/tokens.ts'
import type { RouteContext } from '../../context.ts'
import * as schema from './schema.ts'
import { livePresence } from '../../../adapters/presence/live.ts'
import { disconnectUser } from '../../kick.ts'
import connect from './connect.ts'

const users: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { accounts } = ctx.adapters
  // A crashed broker's users read as offline here, as they do for pushes and logins.
  const online = livePresence(ctx.adapters).users
  // Reads the key files once, when the route starts (docs/security.md, Tokens).
  const tokens = createTokenService(ctx.config, ctx.adapters.revocations)
  await app.register(connect, { ...ctx, tokens })

  app.post('/users', { schema: schema.register, config: { scope: 'admin' } }, async (req, reply) => {
    const { userId, userName, created } = await accounts.register(req.body.userName)
    return reply.code(created ? 201 : 200).send({ userId, userName })
  })

  app.get('/users/online', { schema: schema.online, config: { scope: 'read' } }, async (req) => {
    const page = await online.list(req.query.cursor, req.query.limit ?? 100)
    return {
      items: page.items.map((e) => ({ userId: Number(e.id), userName: e.name ?? '', brokerId: e.brokerId })),
      ...(page.next ? { next: page.next } : {}),
    }
  })

  app.get('/users/:userId/presence', { schema: schema.presence, config: { scope: 'read' } }, async (req) => {
    const { userId } = req.params
    const entry = await online.get(String(userId))
    if (entry) return { online: true, brokerId: entry.brokerId, since: entry.since }
    if (!(await accounts.get(userId))) throw new errors.UserNotFound(userId)
    return { online: false }
  })

  app.delete('/users/:userId/connection', { schema: schema.kick, config: { scope: 'admin' } }, async (req) => {
    const { userId } = req.params
    const kicked = await disconnectUser(app.brokers, ctx, userId, 'Disconnected by the operator')
    if (kicked === undefined) throw new errors.UserOffline(userId)
    return { kicked }
  })

  app.post('/users/:userId/token', { schema: schema.mintToken, config: { scope: 'admin' } }, async (req) => {
    const { userId } = req.params
    if (!tokens.canMint) throw new errors.NotConfigured('minting tokens needs --token-secret or --token-private-key')
    if (!(await accounts.get(userId))) throw new errors.UserNotFound(userId)
    return tokens.mint('user', String(userId), { ttlSeconds: req.query.ttlSeconds })
  })

  app.delete('/users/:userId/tokens', { schema: schema.revokeTokens, config: { scope: 'admin' } }, async (req) => {
    const { userId } = req.params
    if (!(await accounts.get(userId))) throw new errors.UserNotFound(userId)
    // Cut-off now, in seconds: tokens issued in this same second are refused too; the next
    // minted one gets a later iat (security/tokens.ts).
    await ctx.adapters.revocations.revoke('user', String(userId), Math.floor(Date.now() / 1000))
    const kicked = await disconnectUser(app.brokers, ctx, userId, 'Tokens revoked', catalogue.TokenRevoked.code)
    return { revoked: true as const, kicked: kicked === true }
  })
}

export default users
