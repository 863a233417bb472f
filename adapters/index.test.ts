import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { createAdapters } from './index.ts'
import { MemoryAccounts } from './accounts/memory.ts'
import { RedisAccounts } from './accounts/redis.ts'
import { RedisBus } from './bus/redis.ts'
import { MemoryDiscovery } from './discovery/memory.ts'
import { ZooKeeperDiscovery } from './discovery/zookeeper.ts'
import { freePort, startRedis, startZooKeeper, type RedisServer, type ZooKeeperServer } from '../test/support/servers.ts'
import { eventually } from '../test/support/wait.ts'

let redis: RedisServer
let zookeeper: ZooKeeperServer
beforeAll(async () => { [redis, zookeeper] = await Promise.all([startRedis(), startZooKeeper()]) })
afterAll(async () => { await Promise.all([redis?.stop(), zookeeper?.stop()]) })

const base = { redisUrl: '', zookeeper: '', zkRoot: '/cim', inboxMaxPerUser: 2 }

describe('createAdapters', () => {
  it('is the memory set when neither Redis nor ZooKeeper is configured', async () => {
    const adapters = await createAdapters(base)
    expect(adapters.accounts).toBeInstanceOf(MemoryAccounts)
    expect(adapters.discovery).toBeInstanceOf(MemoryDiscovery)
    await adapters.close()
  })

  it('builds Redis and ZooKeeper implementations that two nodes share', async () => {
    const config = { ...base, redisUrl: redis.url, zookeeper: zookeeper.connectString, zkRoot: `/t-${randomUUID()}` }
    const opts = { redisPrefix: `cim:t-${randomUUID()}:` }
    const [n1, n2] = await Promise.all([createAdapters(config, opts), createAdapters(config, opts)])
    try {
      expect(n1.accounts).toBeInstanceOf(RedisAccounts)
      expect(n1.bus).toBeInstanceOf(RedisBus)
      expect(n1.discovery).toBeInstanceOf(ZooKeeperDiscovery)
      const alice = await n1.accounts.register('alice')
      expect(await n2.accounts.getByName('alice')).toEqual({ userId: alice.userId, userName: 'alice' })
      await n1.inbox.append(1, { msgId: 'a', text: 'a', properties: {}, ts: Date.now(), ttlMs: 60_000 })
      await n2.inbox.append(1, { msgId: 'b', text: 'b', properties: {}, ts: Date.now(), ttlMs: 60_000 })
      // inboxMaxPerUser from the config applies across both nodes.
      await expect(n1.inbox.append(1, { msgId: 'c', text: 'c', properties: {}, ts: Date.now(), ttlMs: 60_000 })).rejects.toMatchObject({ code: 'CIM_INBOX_FULL' })
      await n1.discovery.register({ id: 'b1', host: '10.0.0.1', cimPort: 1, httpPort: 2, mqttPort: 3, wsPort: 4, connections: 0, draining: false, startedAt: 0 })
      await eventually(() => n2.discovery.brokers().length > 0, 5_000)
      expect(n2.discovery.brokers().map((b) => b.id)).toEqual(['b1'])
      expect(typeof n1.mqtt().mq).toBe('object')
    } finally {
      await Promise.all([n1.close(), n2.close()])
    }
  })

  it('fails with CIM_BACKEND_UNAVAILABLE when ZooKeeper cannot be reached', async () => {
    const closedPort = await freePort() // nothing listens there once the probe server is gone
    await expect(createAdapters({ ...base, zookeeper: `127.0.0.1:${closedPort}` }, { zkConnectTimeoutMs: 300 }))
      .rejects.toMatchObject({ code: 'CIM_BACKEND_UNAVAILABLE' })
  })
})
