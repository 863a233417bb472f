import { afterAll, beforeAll, beforeEach } from 'vitest'
import { randomUUID } from 'node:crypto'
import { runEventLogContract } from './contract.ts'
import { RedisEventLog } from './redis.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'

let redis: RedisServer
let prefix = ''
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })
// One prefix per test: the handles a test opens (two nodes) share it.
beforeEach(() => { prefix = `cim:t-${randomUUID()}:` })

runEventLogContract('redis', async () => new RedisEventLog({ redis: redis.url, prefix }))
