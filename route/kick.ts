/**
 * Disconnecting a user on the operator's request: the one rule behind DELETE
 * /v1/users/{userId}/connection and the upstream-compatible /offLine, so they cannot drift apart.
 */
import type { BrokerClient } from '../broker/api/client.ts'
import { catalogue } from '../errors.ts'
import { livePresence } from '../adapters/presence/live.ts'
import type { RouteContext } from './context.ts'

/**
 * Asks the broker holding `userId` to close the connection (code CIM_ADMIN_KICK, or `code`, e.g.
 * CIM_TOKEN_REVOKED when its tokens were revoked). Resolves
 * undefined when the user is offline, which includes an entry of a broker discovery no longer
 * lists (nobody to ask; the entry expires with its TTL and blocks no login meanwhile), else
 * whether the broker closed it.
 */
export async function disconnectUser(
  brokers: BrokerClient, ctx: RouteContext, userId: number, reason: string, code: string = catalogue.AdminKick.code,
): Promise<boolean | undefined> {
  const entry = await livePresence(ctx.adapters).users.get(String(userId))
  if (!entry) return undefined
  const kicked = await brokers.kick(entry.brokerId, { userId, connId: entry.connId, code, reason })
  // The listed broker did not answer, or no longer holds this connection: clear the entry so it
  // does not make the user's next login a repeat one until its TTL runs out.
  if (!kicked) await ctx.adapters.presence.users.release(entry.id, entry.connId)
  return kicked
}
