/** /v1/stats: what the inbox holds and has expired, who is online, how many brokers. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteContext } from '../../context.ts'
import * as schema from './schema.ts'

const stats: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { inbox, presence, discovery } = ctx.adapters
  app.get('/stats', { schema: schema.get, config: { scope: 'read' } }, async () => {
    const [box, users, devices] = await Promise.all([inbox.stats(), presence.users.count(), presence.devices.count()])
    return {
      inbox: {
        stored: box.stored, expired: box.expired, bytes: box.bytes,
        maxPerUser: ctx.config.inboxMaxPerUser, maxBytesPerUser: ctx.config.inboxMaxBytesPerUser,
        maxTotalBytes: ctx.config.inboxMaxTotalBytes, ttlSeconds: ctx.config.inboxTtlSeconds,
      },
      online: { users, devices },
      brokers: discovery.brokers().length,
    }
  })
}

export default stats
