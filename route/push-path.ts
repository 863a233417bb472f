/**
 * The push path, shared by /v1/push and the CIM-compatible p2p/group endpoints:
 * presence (which broker holds each user) → (qos 1: the inbox first, which assigns each user's
 * seq) → ONE bus message per broker, however many users it holds → per user `delivered`,
 * `queued` (qos 1, stored) or `offline` (qos 0).
 */
import type { BrokerClient } from '../broker/api/client.ts'
import type { PushReply } from '../broker/api/index.ts'
import type { PresenceEntry } from '../adapters/presence/index.ts'
import { catalogue, errors } from '../errors.ts'
import type { RouteContext } from './context.ts'
import { livePresence } from '../adapters/presence/live.ts'
import { RecentPresence } from './recent-presence.ts'
import { storedBytesOf, type InboxMessage } from '../adapters/inbox/index.ts'
import { pushBodyBound } from '../proto/push-frame.ts'

export type UserStatus = 'delivered' | 'queued' | 'offline' | 'rejected'

export interface UserResult {
  userId: number
  status: UserStatus
  /** Catalogue code saying why a target was rejected. */
  code?: string
  /** A stored (qos 1) message: its id and this user's seq, as its push.acked receipt will name them. */
  msgId?: string
  seq?: number
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

/**
 * Groups live presence entries (adapters/presence/live.ts: none of a broker discovery no longer
 * lists) by broker; undefined slots are offline users.
 */
export function groupByBroker(entries: Array<PresenceEntry | undefined>): Map<string, number[]> {
  const groups = new Map<string, number[]>()
  for (const e of entries) {
    if (!e) continue
    let ids = groups.get(e.brokerId)
    if (!ids) groups.set(e.brokerId, (ids = []))
    ids.push(Number(e.id))
  }
  return groups
}

export interface Delivered {
  /** Written to a live connection. */
  delivered: Set<number>
  /** Connected, and the broker writes the stored message right after the replay in progress. */
  queued: Set<number>
}

/** Where a stored message landed in each user's stream: its seq, and the epoch that seq counts in. */
export interface StoredSeqs {
  seqs: Record<string, number>
  epochs: Record<string, string>
}

/**
 * Sends one push request per broker, in parallel (ONE bus message per broker, however many users;
 * `stored` carries each user's seq and epoch of a stored message).
 */
export async function deliver(brokers: BrokerClient, groups: Map<string, number[]>, msg: TextMessage, stored?: StoredSeqs, ts?: number): Promise<Delivered> {
  const out: Delivered = { delivered: new Set(), queued: new Set() }
  // One broker (every single-user push, most small batches): no Promise.all around one request.
  if (groups.size === 1) {
    const [[brokerId, userIds]] = groups
    const answered = deliverTo(brokers, brokerId, userIds, msg, stored, ts, out)
    if (answered) await answered
  } else {
    await Promise.all(Array.from(groups, ([brokerId, userIds]) => deliverTo(brokers, brokerId, userIds, msg, stored, ts, out)))
  }
  return out
}

/**
 * One broker's push request; its answers land in `out` (only for users it was asked about). A
 * broker in this process answers within the call (broker/api/local.ts): then no promise at all.
 */
function deliverTo(brokers: BrokerClient, brokerId: string, userIds: number[], msg: TextMessage, stored: StoredSeqs | undefined, ts: number | undefined, out: Delivered): Promise<void> | undefined {
  let groupSeqs: Record<string, number> | undefined
  let groupEpochs: Record<string, string> | undefined
  if (stored) {
    groupSeqs = {}
    groupEpochs = {}
    for (const id of userIds) {
      groupSeqs[id] = stored.seqs[id]
      groupEpochs[id] = stored.epochs[id]
    }
  }
  const req = { userIds, text: msg.text, properties: msg.properties, msgId: msg.msgId, seqs: groupSeqs, epochs: groupEpochs, ts }
  const here = brokers.pushHere(brokerId, req)
  if (here !== undefined && !(here instanceof Promise)) return collect(here, userIds, out)
  return (here ?? brokers.push(brokerId, req)).then((reply) => collect(reply, userIds, out))
}

/** A broker's answer into `out`, for the users it was asked about only. */
function collect(reply: PushReply, userIds: number[], out: Delivered): undefined {
  if (userIds.length === 1) {
    // The common single-user push: no Set of the asked ids.
    const id = userIds[0]
    if (reply.delivered.includes(id)) out.delivered.add(id)
    else if (reply.queued?.includes(id)) out.queued.add(id)
    return
  }
  const asked = new Set(userIds)
  for (const id of reply.delivered) if (asked.has(id)) out.delivered.add(id)
  for (const id of reply.queued ?? []) if (asked.has(id)) out.queued.add(id)
  return undefined
}

/**
 * Stores a qos 1 message for one user and returns its seq and epoch, or the rejection (inbox full). Stored
 * BEFORE any delivery attempt: whatever happens next (broker crash, lost bus message, route
 * crash), the message is replayed at the next login or redelivered after the ack timeout.
 */
export async function store(ctx: RouteContext, userId: number, msg: TextMessage, ts: number, ttlSeconds?: number): Promise<Pick<InboxMessage, 'seq' | 'epoch'> | UserResult> {
  try {
    const stored = await ctx.adapters.inbox.append(userId, {
      msgId: msg.msgId,
      text: msg.text,
      // Upstream stores receiveUserId with an offline message; the upstream client needs it.
      properties: { ...msg.properties, receiveUserId: String(userId) },
      ts,
      ttlMs: (ttlSeconds ?? ctx.config.inboxTtlSeconds) * 1000,
    })
    return stored
  } catch (err) {
    const code = (err as { code?: string }).code
    // A full inbox (per user) or a full store (all users) refuses this user and evicts nothing.
    if (code === catalogue.InboxFull.code || code === catalogue.StorageFull.code) return { userId, status: 'rejected', code }
    throw err
  }
}

const recentByContext = new WeakMap<RouteContext, RecentPresence>()

/** The push path's view of user presence (recent-presence.ts), one per route. */
function recentPresence(ctx: RouteContext): RecentPresence {
  let r = recentByContext.get(ctx)
  if (!r) recentByContext.set(ctx, (r = new RecentPresence(livePresence(ctx.adapters).users)))
  return r
}

/** Runs `fn` over `items` with at most `limit` calls in flight (a 10,000-user push stays gentle on Redis). */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  if (items.length === 0) return
  if (items.length === 1) return fn(items[0]) // a single-user push: no workers
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

/**
 * Pushes one text to users wherever they are connected. One result per userId, in input order:
 * qos 1: account check → inbox append (seq) → push → `delivered` or `queued` (`rejected` when the
 * inbox is full); qos 0: push → `delivered` or `offline`.
 */
export async function pushToUsers(brokers: BrokerClient, ctx: RouteContext, push: UserPush): Promise<UserResult[]> {
  const userIds = push.userIds
  checkBatchItems(ctx, 'userIds', userIds.length)
  if (push.qos === 1) checkStoredBytes(ctx, push)
  // Users of a broker discovery dropped (crashed) read as offline: asking it would only cost a delivery timeout.
  const online = recentPresence(ctx)
  // entries[i] is where userIds[i] is connected (undefined: offline); the rest of the walk indexes it.
  const entries = await online.getMany(userIds.map(String))
  /** Users answered before any delivery (no account, inbox full), by userId. */
  const results = new Map<number, UserResult>()
  if (push.checkAccounts) {
    // Online users passed the login check, so only the others need an account lookup.
    await mapLimit(userIds.filter((_, i) => entries[i] === undefined), 64, async (userId) => {
      if (!(await ctx.adapters.accounts.get(userId))) results.set(userId, { userId, status: 'rejected', code: catalogue.UserNotFound.code })
    })
  }
  const ts = Date.now()
  let stored: StoredSeqs | undefined
  if (push.qos === 1) {
    const s: StoredSeqs = { seqs: {}, epochs: {} }
    await mapLimit(results.size ? userIds.filter((id) => !results.has(id)) : userIds, 64, async (userId) => {
      const r = await store(ctx, userId, push, ts, push.ttlSeconds)
      if ('status' in r) results.set(userId, r)
      else {
        s.seqs[userId] = r.seq
        s.epochs[userId] = r.epoch
      }
    })
    stored = s
  }
  const seqs = stored?.seqs
  const targets: number[] = []
  const targetEntries: Array<PresenceEntry | undefined> = []
  for (let i = 0; i < userIds.length; i++) {
    if (results.has(userIds[i])) continue
    targets.push(userIds[i])
    targetEntries.push(entries[i])
  }
  const { delivered, queued } = await deliver(brokers, groupByBroker(targetEntries), push, stored, ts)
  let missed = delivered.size + queued.size === targets.length ? [] : targets.filter((id) => !delivered.has(id) && !queued.has(id))
  if (missed.length > 0) {
    // A user may have reconnected elsewhere between our presence read and the broker's answer:
    // read once more and follow anyone whose connection changed, instead of calling them offline.
    const before = new Map(targets.map((id, i) => [id, targetEntries[i]]))
    const again = await online.refresh(missed.map(String))
    const moved = again.map((e, i) => (e && e.connId !== before.get(missed[i])?.connId ? e : undefined))
    if (moved.some(Boolean)) {
      const second = await deliver(brokers, groupByBroker(moved), push, stored, ts)
      for (const id of second.delivered) delivered.add(id)
      for (const id of second.queued) queued.add(id)
      missed = missed.filter((id) => !delivered.has(id) && !queued.has(id))
    }
  }
  // qos 1: stored, so whoever was not written to now gets it at the next login (or redelivery).
  const notNow: UserStatus = push.qos === 1 ? 'queued' : 'offline'
  for (const userId of missed) results.set(userId, { userId, status: notNow })
  for (const userId of queued) results.set(userId, { userId, status: notNow })
  const out: UserResult[] = new Array(userIds.length)
  for (let i = 0; i < userIds.length; i++) {
    const id = userIds[i]
    const r = results.get(id)
    const seq = seqs?.[id]
    // A stored message names itself, so a backend can match the app's receipt (push.acked) to it.
    if (seq !== undefined) out[i] = { userId: id, status: r?.status ?? 'delivered', msgId: push.msgId, seq }
    else out[i] = r ?? { userId: id, status: 'delivered' }
  }
  return ctx.metrics.countUserResults(out)
}

/**
 * Rejects a push whose frame could exceed the CIM frame maximum on some client: the bound counts
 * the text, every property (sender metadata included) and what the broker adds on any frame
 * (proto/push-frame.ts), so every accepted push fits every client.
 */
export function checkMessageSize(ctx: RouteContext, text: string, properties?: Record<string, string>): void {
  const bytes = pushBodyBound(text, properties)
  if (bytes > ctx.config.maxFrameBytes) {
    throw new errors.PayloadTooLarge(`message and properties encode to up to ${bytes} bytes in a CIM frame; the maximum is ${ctx.config.maxFrameBytes}`)
  }
}

/** Refuses (400) a batch longer than --max-batch-items: the work of one request stays bounded. */
export function checkBatchItems(ctx: RouteContext, field: string, items: number): void {
  if (items > ctx.config.maxBatchItems) {
    throw new errors.InvalidArgument(`${field} has ${items} items; at most ${ctx.config.maxBatchItems} are allowed (--max-batch-items)`)
  }
}

/** receiveUserId as store() adds it, a JSON member with its comma (a userId has at most 16 digits). */
const RECEIVE_USER_ID_BYTES = JSON.stringify({ receiveUserId: String(Number.MAX_SAFE_INTEGER) }).length - 1

/**
 * Refuses (413) a qos 1 push that would store more than --max-stored-bytes-per-request: each
 * user's copy counts storedBytesOf() (what the inbox caps count), checked before anything is
 * stored, so a refused request leaves no trace (README "Limits").
 */
function checkStoredBytes(ctx: RouteContext, push: UserPush): void {
  const perUser = storedBytesOf(push) + RECEIVE_USER_ID_BYTES
  const total = perUser * push.userIds.length
  if (total > ctx.config.maxStoredBytesPerRequest) {
    throw new errors.PayloadTooLarge(`a qos 1 push stores ${perUser} bytes for each of ${push.userIds.length} users (${total} bytes); `
      + `one request may store at most ${ctx.config.maxStoredBytesPerRequest} (--max-stored-bytes-per-request)`)
  }
}
