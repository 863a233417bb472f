/**
 * REST rate limits across route nodes (issue 9 item 13): two route apps over one real Redis count
 * a caller's requests together, so spreading them over nodes does not multiply the limit.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { createAdapters, type Adapters } from '../adapters/index.ts'
import { buildApp } from '../route/app.ts'
import type { Config } from '../config.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { testConfig } from './support/config.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const nodes: Array<{ app: FastifyInstance; adapters: Adapters }> = []
afterEach(async () => {
  for (const n of nodes.splice(0)) { await n.app.close(); await n.adapters.close() }
})

async function routeNode(prefix: string, overrides: Partial<Config>): Promise<FastifyInstance> {
  const config = testConfig({ redisUrl: redis.url, ...overrides })
  const adapters = await createAdapters(config, { redisPrefix: prefix })
  const app = await buildApp({ config, adapters })
  await app.ready()
  nodes.push({ app, adapters })
  return app
}

describe('rate limits on Redis, across route nodes', () => {
  it('one per-key limit and one registration limit for the whole cluster', async () => {
    const prefix = `cim:t-${randomUUID()}:`
    const settings = { apiKeys: 'cluster-key-0123456789', rateLimitPerKey: 4, registrationsPerAddress: 3 }
    const [r1, r2] = await Promise.all([routeNode(prefix, settings), routeNode(prefix, settings)])
    const headers = { authorization: 'Bearer cluster-key-0123456789' }
    // Alternating nodes: 4 pass in the window, the 5th and 6th are refused on either node.
    const codes: number[] = []
    for (let i = 0; i < 6; i++) codes.push((await (i % 2 ? r2 : r1).inject({ method: 'GET', url: '/v1/nodes', headers })).statusCode)
    expect(codes).toEqual([200, 200, 200, 200, 429, 429])

    const reg: number[] = []
    for (let i = 0; i < 4; i++) {
      reg.push((await (i % 2 ? r1 : r2).inject({ method: 'POST', url: '/v1/users', headers, payload: { userName: `c${i}` } })).statusCode)
    }
    expect(reg).toEqual([201, 201, 201, 429])
  })
})
