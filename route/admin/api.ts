/**
 * The admin console's JSON endpoints, /admin/api/* (README "Operations", admin console). Every one
 * needs a key with the `admin` scope when keys are configured (route/plugins/auth.ts); they are
 * hidden from the OpenAPI document: the console is their only client, /v1 is the API to build on.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { PresenceEntry } from '../../adapters/presence/index.ts'
import { livePresence, type LivePresenceTable } from '../../adapters/presence/live.ts'
import { errors } from '../../errors.ts'
import type { RouteContext } from '../context.ts'
import { UserId } from '../schemas.ts'
import { ThroughputSampler } from './throughput.ts'

/** How many presence entries one search request reads at most; past it, the answer has a cursor to go on. */
const SEARCH_SCAN_LIMIT = 10_000

const admin = { scope: 'admin' } as const

const PageQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 1024, description: 'id prefix, or (users) a part of the name, case-insensitive' })),
  cursor: Type.Optional(Type.String({ maxLength: 1024 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
}, { additionalProperties: false })

const PushBody = Type.Object({
  target: Type.Union([Type.Literal('user'), Type.Literal('device'), Type.Literal('all')]),
  id: Type.Optional(Type.String({ maxLength: 1024 })),
  message: Type.String({ maxLength: 65_536 }),
  qos: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
}, { additionalProperties: false })

/**
 * One page of matches: reads the table page by page from `cursor` until `limit` entries match or
 * SEARCH_SCAN_LIMIT were read, so a rare match in a large table never costs one long request.
 */
async function search(table: LivePresenceTable, matches: (e: PresenceEntry) => boolean, cursor: string | undefined, limit: number): Promise<{ items: PresenceEntry[]; next?: string }> {
  const items: PresenceEntry[] = []
  let scanned = 0
  let next = cursor
  do {
    const page = await table.list(next, Math.min(1000, Math.max(limit, 100)))
    for (const e of page.items) if (matches(e)) items.push(e)
    scanned += page.items.length
    next = page.next
  } while (next && items.length < limit && scanned < SEARCH_SCAN_LIMIT)
  return next ? { items, next } : { items }
}

function matcher(q: string | undefined, byName: boolean): (e: PresenceEntry) => boolean {
  const needle = (q ?? '').trim().toLowerCase()
  if (needle === '') return () => true
  return (e) => e.id.toLowerCase().startsWith(needle) || (byName && (e.name ?? '').toLowerCase().includes(needle))
}

const adminApi: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { discovery, presence, accounts, inbox } = ctx.adapters
  const online = livePresence(ctx.adapters)
  const throughput = new ThroughputSampler(ctx.metrics)
  app.addHook('onClose', async () => throughput.stop())

  app.get('/overview', { schema: { hide: true }, config: admin }, async () => {
    const brokers = [...discovery.brokers()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    const [users, devices] = await Promise.all([presence.users.count(), presence.devices.count()])
    return {
      // The fields GET /v1/nodes answers (route/v1/nodes).
      brokers: brokers.map(({ id, host, cimPort, httpPort, mqttPort, wsPort, connections, draining, startedAt }) =>
        ({ id, host, cimPort, httpPort, mqttPort, wsPort, connections, draining, startedAt })),
      online: { users, devices },
    }
  })

  app.get('/users', { schema: { hide: true, querystring: PageQuery }, config: admin }, async (req) => {
    const page = await search(online.users, matcher(req.query.q, true), req.query.cursor, req.query.limit ?? 50)
    return {
      items: page.items.map((e) => ({ userId: Number(e.id), userName: e.name ?? '', brokerId: e.brokerId, since: e.since })),
      ...(page.next ? { next: page.next } : {}),
    }
  })

  app.get('/devices', { schema: { hide: true, querystring: PageQuery }, config: admin }, async (req) => {
    const page = await search(online.devices, matcher(req.query.q, false), req.query.cursor, req.query.limit ?? 50)
    return {
      items: page.items.map((e) => ({ deviceId: e.id, brokerId: e.brokerId, since: e.since })),
      ...(page.next ? { next: page.next } : {}),
    }
  })

  app.get('/users/:userId', {
    schema: { hide: true, params: Type.Object({ userId: UserId }, { additionalProperties: false }) },
    config: admin,
  }, async (req) => {
    const { userId } = req.params
    const [account, entry, pending] = await Promise.all([accounts.get(userId), online.users.get(String(userId)), inbox.pending(userId)])
    if (!account && !entry) throw new errors.UserNotFound(userId)
    return {
      userId,
      userName: account?.userName ?? entry?.name ?? '',
      presence: entry ? { online: true, brokerId: entry.brokerId, since: entry.since } : { online: false },
      inbox: pending,
    }
  })

  // A push from the console IS a /v1 push, made with the caller's own key: the key needs the
  // `push` scope too, and the answer (per-target results, or the error) is the API's own.
  app.post('/push', { schema: { hide: true, body: PushBody }, config: admin }, async (req, reply) => {
    const { target, id = '', message, qos } = req.body
    if (target !== 'all' && id.trim() === '') throw new errors.InvalidArgument(`a ${target} push needs an id`)
    const url = target === 'user' ? `/v1/push/users/${encodeURIComponent(id.trim())}`
      : target === 'device' ? `/v1/push/devices/${encodeURIComponent(id.trim())}`
        : '/v1/push/all'
    const body = target === 'device' ? { payload: message, ...(qos !== undefined && { qos }) }
      : target === 'user' ? { message, ...(qos !== undefined && { qos }) }
        : { message }
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (req.headers.authorization) headers.authorization = req.headers.authorization
    if (typeof req.headers['x-api-key'] === 'string') headers['x-api-key'] = req.headers['x-api-key']
    const res = await app.inject({ method: 'POST', url, headers, payload: body })
    return reply.code(res.statusCode).type('application/json').send(res.body)
  })

  app.get('/stats', { schema: { hide: true }, config: admin }, async () => throughput.snapshot())
}

export default adminApi
