/**
 * /health and /ready on the route and on the broker's HTTP port (README "Operations"), over a real
 * Redis and a real ZooKeeper: readiness follows the backends (503 naming the one that is down, 200
 * again once it is back), a draining node is not ready, and liveness stays 200 throughout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createNode, type CimNode } from '../node.ts'
import { startRedis, startZooKeeper, type RedisServer, type ZooKeeperServer } from './support/servers.ts'
import { eventually } from './support/wait.ts'
import { silentLogger } from './support/config.ts'

const PORTS = { host: '127.0.0.1', advertiseHost: '127.0.0.1', routePort: 0, cimPort: 0, brokerHttpPort: 0, mqttPort: 0, wsPort: 0 }

let redis: RedisServer
let zookeeper: ZooKeeperServer
let node: CimNode | undefined

beforeAll(async () => {
  ;[redis, zookeeper] = await Promise.all([startRedis(), startZooKeeper()])
}, 60_000)
afterAll(async () => {
  await Promise.all([redis?.stop(), zookeeper?.stop()])
})
afterEach(async () => {
  await node?.close()
  node = undefined
})

interface Probe { status: number; body: { ready?: boolean; notReady?: string[]; status?: string } }

async function get(url: string): Promise<Probe> {
  const res = await fetch(url)
  return { status: res.status, body: await res.json() as Probe['body'] }
}

describe('/health and /ready', () => {
  it('ready follows Redis and ZooKeeper on route and broker; health stays 200', async () => {
    node = await createNode({
      roles: { broker: true, route: true }, logger: silentLogger,
      settings: { ...PORTS, redisUrl: redis.url, zookeeper: zookeeper.connectString, zkSessionTimeoutMs: 30_000 },
    })
    const { routePort, broker } = await node.listen()
    const urls = {
      route: (p: string) => `http://127.0.0.1:${routePort}${p}`,
      broker: (p: string) => `http://127.0.0.1:${broker!.httpPort}${p}`,
    }
    const both = (path: string) => Promise.all([get(urls.route(path)), get(urls.broker(path))])
    const bothNotReady = (what: string) => eventually(async () => {
      const rs = await both('/ready')
      return rs.every((r) => r.status === 503) ? rs : undefined
    }, 4_000, `ready 503 while ${what} is down`)

    for (const r of await both('/ready')) {
      expect(r.status).toBe(200)
      expect(r.body).toMatchObject({ ready: true, notReady: [], checks: { redis: { ok: true }, zookeeper: { ok: true }, draining: { ok: true } } })
    }

    // Redis down for a few seconds: both answer 503 naming redis, health stays 200.
    const redisBack = redis.restart(4_000)
    const down = await bothNotReady('Redis')
    for (const r of down) expect(r.body).toMatchObject({ ready: false, notReady: ['redis'], checks: { redis: { ok: false }, zookeeper: { ok: true } } })
    for (const r of await both('/health')) expect(r.status).toBe(200)
    await redisBack
    await eventually(async () => (await both('/ready')).every((r) => r.status === 200), 10_000, 'ready again after Redis restarted')

    // ZooKeeper down: its session is lost, then regained (the session outlives the restart).
    const zkBack = zookeeper.restart(3_000)
    const zkDown = await bothNotReady('ZooKeeper')
    for (const r of zkDown) expect(r.body.notReady).toEqual(['zookeeper'])
    for (const r of await both('/health')) expect(r.status).toBe(200)
    await zkBack
    await eventually(async () => (await both('/ready')).every((r) => r.status === 200), 20_000, 'ready again after ZooKeeper restarted')
  }, 60_000)

  it('a draining route is not ready and still alive; memory adapters check nothing else', async () => {
    node = await createNode({ roles: { broker: false, route: true }, logger: silentLogger, settings: PORTS })
    const app = node.app!
    const ready = await app.inject({ method: 'GET', url: '/ready' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ ready: true, notReady: [], checks: { draining: { ok: true } } })

    await app.stopAccepting(0)
    const draining = await app.inject({ method: 'GET', url: '/ready' })
    expect(draining.statusCode).toBe(503)
    expect(draining.json()).toEqual({ ready: false, notReady: ['draining'], checks: { draining: { ok: false, error: 'the node is shutting down' } } })
    const health = await app.inject({ method: 'GET', url: '/health' })
    expect(health.statusCode).toBe(200)
    expect(health.json()).toEqual({ status: 'draining' })
  })

  it('needs no API key when keys are configured', async () => {
    node = await createNode({ roles: { broker: false, route: true }, logger: silentLogger, settings: { ...PORTS, apiKeys: 'k'.repeat(32) } })
    for (const url of ['/health', '/ready']) expect((await node.app!.inject({ method: 'GET', url })).statusCode, url).toBe(200)
    expect((await node.app!.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401)
  })
})
