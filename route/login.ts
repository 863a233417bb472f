/**
 * Where a user logging in should connect: the one broker choice behind both the upstream-compatible
 * `POST /login` (route/compat) and `POST /v1/users/{userId}/connect` (route/v1/users/connect.ts),
 * so the two cannot drift apart (docs/architecture.md, Upstream-compatible endpoints).
 */
import type { BrokerInfo } from '../adapters/discovery/index.ts'
import { livePresence } from '../adapters/presence/live.ts'
import { errors } from '../errors.ts'
import type { RouteContext } from './context.ts'

/**
 * Checks the account, refuses a second login under the `reject` policy, and picks a live broker
 * with the configured strategy. `userName` given (the compat login): the account must carry it,
 * else CIM_ACCOUNT_MISMATCH; absent: an unknown userId is CIM_USER_NOT_FOUND.
 * Throws CIM_REPEAT_LOGIN (409) and CIM_NO_BROKER (503) as the balancer does.
 */
export async function chooseLoginBroker(ctx: RouteContext, userId: number, userName?: string, avoid: readonly string[] = []): Promise<BrokerInfo> {
  // With `kick-old` the broker replaces the old connection when the new one logs in. A crashed
  // broker's leftover entry reads as offline (live presence), so it is no repeat login. Both reads
  // go out at once (one Redis round trip, not two): a login burst after a broker failure is
  // bounded by the route's round trips per login.
  const [account, current] = await Promise.all([
    ctx.adapters.accounts.get(userId),
    ctx.config.repeatLogin === 'reject' ? livePresence(ctx.adapters).users.get(String(userId)) : undefined,
  ])
  if (userName !== undefined) {
    if (!account || account.userName !== userName) throw new errors.AccountMismatch(userId, userName)
  } else if (!account) {
    throw new errors.UserNotFound(userId)
  }
  if (current) throw new errors.RepeatLogin(userId)
  return ctx.balancer.choose(String(userId), reachable(ctx.adapters.discovery.brokers(), avoid))
}

/**
 * The listed brokers minus those the client could not reach (`avoid`, the SDK's hint after a
 * refused TCP connect: a killed broker stays listed until its ZooKeeper session expires). The hint
 * only steers this client's own choice, and is ignored when it would leave no broker.
 */
function reachable(brokers: readonly BrokerInfo[], avoid: readonly string[]): readonly BrokerInfo[] {
  if (avoid.length === 0) return brokers
  const rest = brokers.filter((b) => !avoid.includes(b.id) && !b.draining)
  return rest.length > 0 ? rest : brokers
}
