/** /v1/devices: connected MQTT devices, from the presence table the brokers keep. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteContext } from '../../context.ts'
import * as schema from './schema.ts'
import { livePresence } from '../../../adapters/presence/live.ts'

const devices: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  // Devices of a broker that discovery dropped (crashed) are offline, though their entries live until their TTL.
  const online = livePresence(ctx.adapters).devices

  app.get('/devices/online', { schema: schema.online }, async (req) => {
    const page = await online.list(req.query.cursor, req.query.limit ?? 100)
    return {
      items: page.items.map((e) => ({ deviceId: e.id, brokerId: e.brokerId, since: e.since })),
      ...(page.next ? { next: page.next } : {}),
    }
  })
}

export default devices
