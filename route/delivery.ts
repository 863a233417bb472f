/**
 * The push path, shared by /v1/push and the CIM-compatible p2p/group endpoints:
 * presence (which broker holds each user) → ONE bus message per broker, however many users it
 * holds → for users nobody delivered to, the inbox (qos 1) or `offline` (qos 0).
 */
import type { BrokerClient } from '../broker/remote.ts'
import type { PresenceEntry } from '../adapters/presence/index.ts'
import { catalogue, errors } from '../errors.ts'
import type { RouteContext } from './context.ts'

export type UserStatus = 'delivered' | 'queued' | 'offline' | 'rejected'

export interface UserResult {
  userId: number
  status: UserStatus
  /** Catalogue code saying why a target was rejected. */
  code?: string
}

export interface TextMessage {
  text: string
  /** Sender metadata (sendUserId, sendUserName, ...); the broker adds receiveUserId. */
  properties: Record<string, string>
  /** Unique id of this message, stable across redeliveries (proto=2 clients dedupe by it). */
  msgId: string
}

export interface UserPush extends TextMessage {
  /** Distinct userIds. */
  userIds: number[]
  /** 0: at most once, online users only. 1: store for users nobody delivered to. */
  qos: 0 | 1
  /** Lifetime of a stored message in seconds. Default config.inboxTtlSeconds. */
  ttlSeconds?: number
  /** Answer `rejected` / CIM_USER_NOT_FOUND for offline userIds with no account. */
  checkAccounts: boolean
}

/** Groups presence entries by broker, skipping entries of brokers discovery no longer lists. */
export function groupByBroker(ctx: RouteContext, entries: Array<PresenceEntry | undefined>): Map<string, number[]> {
  // A presence entry can outlive its broker until its TTL runs out; asking a dead broker would
  // only cost a delivery timeout, so such users count as offline straight away.
  const known = new Set(ctx.adapters.discovery.brokers().map((b) => b.id))
  const groups = new Map<string, number[]>()
  for (const e of entries) {
    if (!e || !known.has(e.brokerId)) continue
    let ids = groups.get(e.brokerId)
    if (!ids) groups.set(e.brokerId, (ids = []))
    ids.push(Number(e.id))
  }
  return groups
}

/** Sends one push request per broker, in parallel. Resolves with the userIds a broker delivered to. */
export async function deliver(brokers: BrokerClient, groups: Map<string, number[]>, msg: TextMessage): Promise<Set<number>> {
  const delivered = new Set<number>()
  await Promise.all([...groups].map(async ([brokerId, userIds]) => {
    const reply = await brokers.push(brokerId, { userIds, text: msg.text, properties: msg.properties, msgId: msg.msgId })
    const asked = new Set(userIds)
    for (const id of reply.delivered) if (asked.has(id)) delivered.add(id)
  }))
  return delivered
}

/** Stores a message for a user who could not be reached now; it is replayed at their next login. */
export async function store(ctx: RouteContext, userId: number, msg: TextMessage, ttlSeconds?: number): Promise<UserResult> {
  try {
    await ctx.adapters.inbox.append(userId, {
      msgId: msg.msgId,
      text: msg.text,
      // Upstream stores receiveUserId with an offline message; the upstream client needs it.
      properties: { ...msg.properties, receiveUserId: String(userId) },
      ts: Date.now(),
      ttlMs: (ttlSeconds ?? ctx.config.inboxTtlSeconds) * 1000,
    })
    return { userId, status: 'queued' }
  } catch (err) {
    if ((err as { code?: string }).code === catalogue.InboxFull.code) return { userId, status: 'rejected', code: catalogue.InboxFull.code }
    throw err
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight (a 10,000-user push stays gentle on Redis). */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => { while (next < items.length) { const i = next++; out[i] = await fn(items[i]) } }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** Pushes one text to users wherever they are connected. One result per userId, in input order. */
export async function pushToUsers(brokers: BrokerClient, ctx: RouteContext, push: UserPush): Promise<UserResult[]> {
  const entries = await ctx.adapters.presence.users.getMany(push.userIds.map(String))
  const delivered = await deliver(brokers, groupByBroker(ctx, entries), push)
  let missed = push.userIds.filter((id) => !delivered.has(id))
  if (missed.length > 0) {
    // A user may have reconnected elsewhere between our presence read and the broker's answer:
    // read once more and follow anyone whose connection changed, instead of calling them offline.
    const before = new Map(push.userIds.map((id, i) => [id, entries[i]?.connId]))
    const again = await ctx.adapters.presence.users.getMany(missed.map(String))
    const moved = again.map((e, i) => (e && e.connId !== before.get(missed[i]) ? e : undefined))
    if (moved.some(Boolean)) {
      for (const id of await deliver(brokers, groupByBroker(ctx, moved), push)) delivered.add(id)
      missed = missed.filter((id) => !delivered.has(id))
    }
  }
  const results = new Map<number, UserResult>()
  await mapLimit(missed, 64, async (userId) => {
    // Online users passed the login check, so only the others need an account lookup.
    if (push.checkAccounts && !(await ctx.adapters.accounts.get(userId))) {
      results.set(userId, { userId, status: 'rejected', code: catalogue.UserNotFound.code })
    } else if (push.qos === 1) {
      results.set(userId, await store(ctx, userId, push, push.ttlSeconds))
    } else {
      results.set(userId, { userId, status: 'offline' })
    }
  })
  return push.userIds.map((userId) => results.get(userId) ?? { userId, status: 'delivered' })
}

/** Rejects a message the broker could not put in one CIM frame. */
export function checkMessageSize(ctx: RouteContext, text: string): void {
  const bytes = Buffer.byteLength(text)
  if (bytes > ctx.config.maxFrameBytes) {
    throw new errors.PayloadTooLarge(`message is ${bytes} bytes; a CIM frame carries at most ${ctx.config.maxFrameBytes}`)
  }
}

/** Every live presence entry (pages through the table). */
export async function allEntries(ctx: RouteContext, table: 'users' | 'devices'): Promise<PresenceEntry[]> {
  const out: PresenceEntry[] = []
  let cursor: string | undefined
  do {
    const page = await ctx.adapters.presence[table].list(cursor, 1000)
    out.push(...page.items)
    cursor = page.next
  } while (cursor)
  return out
}
