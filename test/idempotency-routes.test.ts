/**
 * idempotencyKey across route nodes on Redis (rule 5): two route processes' worth of adapters and
 * apps over one Redis; concurrent and later repeats of a push on either node store and send once.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { createAdapters, type Adapters } from '../adapters/index.ts'
import { buildApp } from '../route/app.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { testConfig } from './support/config.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const nodes: Array<{ app: FastifyInstance; adapters: Adapters }> = []
afterEach(async () => {
  for (const n of nodes.splice(0)) { await n.app.close(); await n.adapters.close() }
})

async function routeNode(prefix: string, apiKeys = ''): Promise<{ app: FastifyInstance; adapters: Adapters }> {
  const config = testConfig({ redisUrl: redis.url, deliveryTimeoutMs: 300, apiKeys })
  const adapters = await createAdapters(config, { redisPrefix: prefix })
  const app = await buildApp({ config, adapters })
  await app.ready()
  const n = { app, adapters }
  nodes.push(n)
  return n
}

describe('idempotencyKey on Redis, across route nodes', () => {
  it('concurrent repeats on two nodes store once and all get the first answer; later repeats too', async () => {
    const prefix = `cim:t-${randomUUID()}:`
    const [r1, r2] = await Promise.all([routeNode(prefix), routeNode(prefix)])
    const { userId } = await r1.adapters.accounts.register('idem')
    const body = { message: 'pay day', qos: 1, idempotencyKey: `invoice-${randomUUID()}` }
    const url = `/v1/push/users/${userId}`
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      (i % 2 ? r2 : r1).app.inject({ method: 'POST', url, payload: body })))
    for (const a of answers) expect(a.json()).toEqual(answers[0].json())
    expect(answers[0].json()).toMatchObject({ results: [{ userId, status: 'queued', seq: 1 }] })
    expect(answers.filter((a) => a.headers['idempotent-replayed'] !== 'true')).toHaveLength(1)
    expect((await r2.adapters.inbox.list(userId)).map((m) => m.text)).toEqual(['pay day'])

    const later = await r2.app.inject({ method: 'POST', url, payload: body })
    expect(later.headers['idempotent-replayed']).toBe('true')
    expect(await r1.adapters.inbox.list(userId)).toHaveLength(1)
    // Another key is another push.
    await r2.app.inject({ method: 'POST', url, payload: { ...body, idempotencyKey: 'other' } })
    expect(await r1.adapters.inbox.list(userId)).toHaveLength(2)
  })

  it('keys are scoped per API key and checked against the request, on either node (issue 9 item 2)', async () => {
    const prefix = `cim:t-${randomUUID()}:`
    const keys = 'node-key-one-0123456789,node-key-two-0123456789'
    const [r1, r2] = await Promise.all([routeNode(prefix, keys), routeNode(prefix, keys)])
    const { userId } = await r1.adapters.accounts.register('scoped')
    const url = `/v1/push/users/${userId}`
    const send = (node: typeof r1, key: string, message: string) => node.app.inject({
      method: 'POST', url, headers: { authorization: `Bearer ${key}` }, payload: { message, qos: 1, idempotencyKey: 'order-9' },
    })
    expect((await send(r1, 'node-key-one-0123456789', 'one')).statusCode).toBe(200)
    // Another caller, the same key name: its own request, not the first caller's answer.
    const two = await send(r2, 'node-key-two-0123456789', 'two')
    expect(two.statusCode).toBe(200)
    expect(two.headers['idempotent-replayed']).toBeUndefined()
    // The first caller reusing its key for another message, on the other node: refused, not sent.
    const changed = await send(r2, 'node-key-one-0123456789', 'one, changed')
    expect(changed.statusCode).toBe(422)
    expect(changed.json().code).toBe('CIM_IDEMPOTENCY_MISMATCH')
    const same = await send(r2, 'node-key-one-0123456789', 'one')
    expect(same.headers['idempotent-replayed']).toBe('true')
    expect((await r1.adapters.inbox.list(userId)).map((m) => m.text)).toEqual(['one', 'two'])
  })
})
