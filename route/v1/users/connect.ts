/**
 * POST /v1/users/{userId}/connect: the SDK's way to its broker (docs/security.md, Tokens). Public
 * (no API key: an app holds none); the user's login token is the credential instead. The broker
 * choice is the compat `/login`'s (route/login.ts), so an app finds its broker with compat off.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../../errors.ts'
import type { TokenService } from '../../../security/tokens.ts'
import type { RouteContext } from '../../context.ts'
import { chooseLoginBroker } from '../../login.ts'
import * as schema from './schema.ts'

export interface ConnectOptions extends RouteContext {
  /** The route's token service (route/v1/users/index.ts builds one per app). */
  tokens: TokenService
}

const connect: FastifyPluginAsyncTypebox<ConnectOptions> = async (app, { tokens, ...ctx }) => {
  app.post('/users/:userId/connect', { schema: schema.connect, config: { scope: 'public' } }, async (req) => {
    const { userId } = req.params
    const token = req.body?.token
    // A token sent is always checked. None: refused when a token key is configured, unless compat
    // chose upstream's token-less logins, where this is as open as `/login` (docs/security.md, Compat).
    if (token !== undefined) {
      if (tokens.enabled) {
        const claims = await tokens.verify(token, 'user')
        if (claims.sub !== String(userId)) throw new errors.Unauthorized(`the token is not user ${userId}'s`)
      }
    } else if (tokens.enabled && !ctx.config.compat) {
      throw new errors.Unauthorized('send {"token": "<user token>"} (docs/security.md, Tokens)')
    }
    const broker = await chooseLoginBroker(ctx, userId, undefined, req.body?.avoid)
    return {
      brokerId: broker.id, host: broker.host, cimPort: broker.cimPort, httpPort: broker.httpPort,
      ...(broker.cimTlsPort !== undefined && { cimTlsPort: broker.cimTlsPort }),
    }
  })
}

export default connect
