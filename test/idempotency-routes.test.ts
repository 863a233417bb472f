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

async function routeNode(prefix: string): Promise<{ app: FastifyInstance; adapters: Adapters }> {
  const config = testConfig({ redisUrl: redis.url, deliveryTimeoutMs: 300 })
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
    for (const a of answers) expect(a.json()).toEqual({ results: [{ userId, status: 'queued' }] })
    expect(answers.filter((a) => a.headers['idempotent-replayed'] !== 'true')).toHaveLength(1)
    expect((await r2.adapters.inbox.list(userId)).map((m) => m.text)).toEqual(['pay day'])

    const later = await r2.app.inject({ method: 'POST', url, payload: body })
    expect(later.headers['idempotent-replayed']).toBe('true')
    expect(await r1.adapters.inbox.list(userId)).toHaveLength(1)
    // Another key is another push.
    await r2.app.inject({ method: 'POST', url, payload: { ...body, idempotencyKey: 'other' } })
    expect(await r1.adapters.inbox.list(userId)).toHaveLength(2)
  })
})
