import { afterAll, beforeAll, beforeEach } from 'vitest'
import { randomUUID } from 'node:crypto'
import { runIdempotencyContract } from './contract.ts'
import { RedisIdempotency } from './redis.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'

let redis: RedisServer
let prefix = ''
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })
// One prefix per test: the handles a test opens (two route nodes) share it.
beforeEach(() => { prefix = `cim:t-${randomUUID()}:` })

runIdempotencyContract('redis', async () => new RedisIdempotency({ redis: redis.url, prefix }))
