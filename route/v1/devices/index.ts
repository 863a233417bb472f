/** /v1/devices: connected MQTT devices, from the presence table the brokers keep. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteContext } from '../../context.ts'
import * as schema from './schema.ts'
import { listedBrokerIds } from '../../../adapters/discovery/listed.ts'

const devices: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  app.get('/devices/online', { schema: schema.online }, async (req) => {
    const page = await ctx.adapters.presence.devices.list(req.query.cursor, req.query.limit ?? 100)
    const listed = listedBrokerIds(ctx.adapters.discovery)
    return {
      // Devices of a broker that discovery dropped (crashed) are offline, though their entries live until their TTL.
      items: page.items.filter((e) => listed.has(e.brokerId)).map((e) => ({ deviceId: e.id, brokerId: e.brokerId, since: e.since })),
      ...(page.next ? { next: page.next } : {}),
    }
  })
}

export default devices
