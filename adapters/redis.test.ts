import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { ReplyError, type Redis } from 'ioredis'
import { openRedis, quit, redisFailure, warnDurability, type DurabilityLog } from './redis.ts'
import { RedisAccounts } from './accounts/redis.ts'
import { RedisPresence } from './presence/redis.ts'
import { RedisInbox } from './inbox/redis.ts'
import { RedisIdempotency } from './idempotency/redis.ts'
import { RedisBus } from './bus/redis.ts'
import { createMemoryAdapters } from './index.ts'
import { buildApp } from '../route/app.ts'
import { resolveConfig } from '../config.ts'
import { startRedis, type RedisServer } from '../test/support/servers.ts'

const UNAVAILABLE = { code: 'CIM_BACKEND_UNAVAILABLE', statusCode: 503 }

/** Every call of every Redis adapter over `client`, each expected to fail. */
function everyCall(client: Redis): Array<[string, () => Promise<unknown>]> {
  const shared = { redis: client, prefix: `cim:t-${randomUUID()}:` }
  const accounts = new RedisAccounts(shared)
  const presence = new RedisPresence(shared)
  const inbox = new RedisInbox(shared)
  const idempotency = new RedisIdempotency(shared)
  const bus = new RedisBus({ ...shared, redis: client })
  const entry = { id: '1', brokerId: 'b1', connId: 'c1', since: 1 }
  return [
    ['accounts.register', () => accounts.register('a')],
    ['accounts.get', () => accounts.get(1)],
    ['accounts.getByName', () => accounts.getByName('a')],
    ['presence.claim', () => presence.users.claim(entry, { replace: false, ttlMs: 1000 })],
    ['presence.get', () => presence.users.get('1')],
    ['presence.getMany', () => presence.users.getMany(['1', '2'])],
    ['presence.list', () => presence.users.list(undefined, 10)],
    ['presence.release', () => presence.users.release('1', 'c1')],
    ['inbox.append', () => inbox.append(1, { msgId: 'm', text: 'x', properties: {}, ts: 1, ttlMs: 1000 })],
    ['inbox.list', () => inbox.list(1)],
    ['idempotency.get', () => idempotency.get('k')],
    ['idempotency.claim', () => idempotency.claim('k', { state: 'pending', token: 't', msgId: 'm', at: 1 }, 1000)],
    ['bus.publish', () => bus.publish('ch', { type: 'x' })],
  ]
}

describe('Redis adapters when Redis cannot serve', () => {
  let redis: RedisServer
  beforeAll(async () => { redis = await startRedis() })
  afterAll(async () => { await redis?.stop() })

  it('fail with the catalogued CIM_BACKEND_UNAVAILABLE, the ioredis error as its cause', async () => {
    // Fail queued commands at the first refused reconnect, not after ioredis's 20 retries.
    const client = openRedis(redis.url, () => {}, { maxRetriesPerRequest: 0 })
    try {
      await client.ping()
      const calls = everyCall(client)
      await redis.stop()
      const failures = await Promise.all(calls.map(([name, call]) => call().then(() => new Error(`${name} succeeded`), (e: unknown) => e)))
      failures.forEach((err, i) => {
        expect(err, calls[i][0]).toMatchObject(UNAVAILABLE)
        expect((err as Error).cause, calls[i][0]).toBeInstanceOf(Error)
      })
    } finally {
      client.disconnect()
    }
  }, 30_000)

  it('also on a connection that was closed', async () => {
    const server = await startRedis()
    const client = openRedis(server.url)
    try {
      await client.ping()
      await quit(client) // status 'end': ioredis answers "Connection is closed."
      for (const [name, call] of everyCall(client)) await expect(call(), name).rejects.toMatchObject(UNAVAILABLE)
    } finally {
      await server.stop()
    }
  })

  it('the route answers them 503 CIM_BACKEND_UNAVAILABLE', async () => {
    const server = await startRedis()
    const client = openRedis(server.url, () => {}, { maxRetriesPerRequest: 0 })
    const adapters = { ...createMemoryAdapters(), accounts: new RedisAccounts({ redis: client }), presence: new RedisPresence({ redis: client }) }
    const app = await buildApp({ config: resolveConfig({}, {}), adapters, logger: false })
    try {
      await client.ping()
      await server.stop()
      const register = await app.inject({ method: 'POST', url: '/v1/users', payload: { userName: 'a' } })
      expect(register.statusCode).toBe(503)
      expect(register.json().code).toBe('CIM_BACKEND_UNAVAILABLE')
      const presence = await app.inject({ method: 'GET', url: '/v1/users/1/presence' })
      expect(presence.statusCode).toBe(503)
      expect(presence.json().code).toBe('CIM_BACKEND_UNAVAILABLE')
    } finally {
      await app.close()
      client.disconnect()
    }
  }, 30_000)
})

describe('redisFailure', () => {
  it("passes Redis's own error replies (a wrong command, a script's bug) and coded errors through", () => {
    const bug = new ReplyError('ERR Error running script: attempt to compare nil with number')
    expect(() => redisFailure(bug)).toThrow(bug)
    const full = Object.assign(new Error('Inbox of user 1 is full'), { code: 'CIM_INBOX_FULL' })
    expect(() => redisFailure(full)).toThrow(full)
  })

  it('codes replies that say Redis cannot serve now, and connection failures', () => {
    expect(() => redisFailure(new ReplyError('LOADING Redis is loading the dataset in memory'))).toThrow(expect.objectContaining(UNAVAILABLE))
    expect(() => redisFailure(new Error('Connection is closed.'))).toThrow(expect.objectContaining(UNAVAILABLE))
  })
})

describe('warnDurability (README "Durable data")', () => {
  let redis: RedisServer
  beforeAll(async () => { redis = await startRedis() })
  afterAll(async () => { await redis?.stop() })

  function recorder(): DurabilityLog & { warns: string[]; debugs: string[] } {
    const warns: string[] = []
    const debugs: string[] = []
    return { warns, debugs, warn: (_o, msg) => { warns.push(msg) }, debug: (_o, msg) => { debugs.push(msg) } }
  }

  it('warns once when neither AOF nor RDB is on, and says nothing when either is', async () => {
    const client = openRedis(redis.url)
    try {
      const log = recorder()
      await warnDurability(client, log) // the test server runs with --save '' --appendonly no
      expect(log.warns).toHaveLength(1)
      expect(log.warns[0]).toMatch(/NO PERSISTENCE.*appendonly yes/)
      for (const [key, on, off] of [['appendonly', 'yes', 'no'], ['save', '3600 1', '']]) {
        await client.config('SET', key, on)
        const quiet = recorder()
        await warnDurability(client, quiet)
        expect(quiet.warns, key).toEqual([])
        await client.config('SET', key, off)
      }
    } finally {
      await quit(client)
    }
  })

  it('a server that refuses CONFIG (managed Redis) gets one debug line, no warning', async () => {
    const admin = openRedis(redis.url)
    await admin.call('ACL', 'SETUSER', 'managed', 'on', 'nopass', '~*', '&*', '+@all', '-config')
    const client = openRedis(`redis://managed@127.0.0.1:${redis.port}`)
    try {
      const log = recorder()
      await warnDurability(client, log)
      expect(log.warns).toEqual([])
      expect(log.debugs).toHaveLength(1)
    } finally {
      await quit(client)
      await quit(admin)
    }
  })
})
