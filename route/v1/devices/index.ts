/**
 * /v1/devices: connected MQTT devices, from the presence table the brokers keep, and device
 * credentials (docs/security.md, Device credentials).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteContext } from '../../context.ts'
import * as schema from './schema.ts'
import { livePresence } from '../../../adapters/presence/live.ts'
import { catalogue, errors } from '../../../errors.ts'
import { createTokenService } from '../../../security/tokens.ts'

const devices: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  // Devices of a broker that discovery dropped (crashed) are offline, though their entries live until their TTL.
  const online = livePresence(ctx.adapters).devices
  // Reads the key files once, when the route starts.
  const tokens = createTokenService(ctx.config, ctx.adapters.revocations)

  app.get('/devices/online', { schema: schema.online, config: { scope: 'read' } }, async (req) => {
    const page = await online.list(req.query.cursor, req.query.limit ?? 100)
    return {
      items: page.items.map((e) => ({ deviceId: e.id, brokerId: e.brokerId, since: e.since })),
      ...(page.next ? { next: page.next } : {}),
    }
  })

  app.post('/devices/:deviceId/token', {
    schema: schema.mintToken,
    config: { scope: 'admin' },
    // The body is optional: a POST without one asks for an ordinary device token.
    preValidation: async (req) => { req.body ??= {} },
  }, async (req) => {
    if (!tokens.canMint) throw new errors.NotConfigured('minting tokens needs --token-secret or --token-private-key')
    const { role, ttlSeconds } = req.body
    return tokens.mint('device', req.params.deviceId, { ttlSeconds, role: role === 'device' ? undefined : role })
  })

  app.delete('/devices/:deviceId/tokens', { schema: schema.revokeTokens, config: { scope: 'admin' } }, async (req) => {
    const { deviceId } = req.params
    // Revoke first, so the device cannot reconnect with an old token once it is disconnected.
    await ctx.adapters.revocations.revoke('device', deviceId, Math.floor(Date.now() / 1000))
    const disconnected = await app.brokers.disconnectDevice({ deviceId, code: catalogue.TokenRevoked.code, reason: 'Tokens revoked' })
    return { revoked: true as const, disconnected }
  })
}

export default devices
