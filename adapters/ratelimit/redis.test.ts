import { afterAll, beforeAll, beforeEach } from 'vitest'
import { randomUUID } from 'node:crypto'
import { runRateCounterContract } from './contract.ts'
import { RedisRateCounter } from './redis.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'

let redis: RedisServer
let prefix = ''
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })
beforeEach(() => { prefix = `cim:t-${randomUUID()}:` })

runRateCounterContract('redis', async () => new RedisRateCounter({ redis: redis.url, prefix }))
