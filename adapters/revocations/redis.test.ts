import { afterAll, beforeAll, beforeEach } from 'vitest'
import { randomUUID } from 'node:crypto'
import { runRevocationsContract } from './contract.ts'
import { RedisRevocations } from './redis.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'

let redis: RedisServer
let prefix = ''
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })
// One prefix per test: the handles a test opens (two nodes) share it.
beforeEach(() => { prefix = `cim:t-${randomUUID()}:` })

runRevocationsContract('redis', async () => new RedisRevocations({ redis: redis.url, prefix }))
