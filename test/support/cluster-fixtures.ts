/**
 * The shared setup of the multi-process cluster tests: `useCluster()` starts a real Redis and
 * ZooKeeper and a Cluster (test/support/cluster.ts) over them before the file's tests, prints the
 * processes' output when a test fails, and closes everything the tests opened, then the cluster
 * and the servers. Plus the clients those tests log in with.
 */
import { afterAll, beforeAll, beforeEach, expect } from 'vitest'
import { CimClient, type CimClientOptions, type CimMessage } from '../../client/index.ts'
import { BaseCommand, type ResponseFrame } from '../../proto/codec.ts'
import { startRedis, startZooKeeper, type RedisServer, type ZooKeeperServer } from './servers.ts'
import { Cluster, type BrokerProcess, type RouteProcess } from './cluster.ts'
import { RawClient, postJson } from './wire.ts'
import { eventually as eventuallyWithin } from './wait.ts'

/** Waits are generous (a loaded 2-core machine runs many processes here); passing checks return at once. */
export const WAIT = 10_000
export const eventually = <T>(check: () => Promise<T> | T, ms = WAIT) => eventuallyWithin(check, ms)

/** Cluster.start's options without the server addresses, which useCluster fills in. */
export type ClusterSetup = Omit<Parameters<typeof Cluster.start>[0], 'redisUrl' | 'zookeeper'>

export interface Sdk { client: CimClient; got: CimMessage[] }

export interface ClusterFixture {
  readonly redis: RedisServer
  readonly zookeeper: ZooKeeperServer
  readonly cluster: Cluster
  /** Run (in order) after the file's tests, before the cluster is closed. */
  readonly closers: Array<() => unknown>
  /** Registers `userName` through `route`; its userId. */
  register(route: RouteProcess, userName: string): Promise<number>
  /**
   * A user registered through `route` and logged in on `broker` directly by a raw CIM client
   * (closed afterwards); with proto=2 (the default) resolves once its LOGIN_REPLY is in.
   */
  rawUser(route: RouteProcess, broker: BrokerProcess, userName: string, proto2?: boolean): Promise<{ userId: number; peer: RawClient; reply?: ResponseFrame }>
  /** An SDK client (not yet connected, closed afterwards) that records its messages and ignores its errors. */
  sdk(route: RouteProcess, userName: string, reconnect: CimClientOptions['reconnect']): Sdk
}

/** Call at the top level of a cluster test file. */
export function useCluster(setup: ClusterSetup): ClusterFixture {
  let redis: RedisServer | undefined
  let zookeeper: ZooKeeperServer | undefined
  let cluster: Cluster | undefined
  const closers: Array<() => unknown> = []

  beforeAll(async () => {
    [redis, zookeeper] = await Promise.all([startRedis(), startZooKeeper()])
    cluster = await Cluster.start({ redisUrl: redis.url, zookeeper: zookeeper.connectString, ...setup })
  }, 120_000)

  // The processes' own logs explain most failures.
  beforeEach(({ onTestFailed }) => onTestFailed(() => { console.error(cluster?.output()) }))

  afterAll(async () => {
    for (const c of closers.splice(0)) await c()
    await cluster?.close()
    await Promise.all([redis?.stop(), zookeeper?.stop()])
  })

  async function register(route: RouteProcess, userName: string): Promise<number> {
    const res = await postJson(`${route.url}/v1/users`, { userName })
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300)
    return res.body.userId as number
  }

  return {
    get redis() { return redis! },
    get zookeeper() { return zookeeper! },
    get cluster() { return cluster! },
    closers,
    register,
    async rawUser(route, broker, userName, proto2 = true) {
      const userId = await register(route, userName)
      const peer = await RawClient.connectAndLogin(broker.cimPort, userId, userName, proto2 ? { proto: '2' } : undefined)
      closers.push(() => peer.close())
      const reply = proto2 ? await peer.next((f) => f.cmd === BaseCommand.LOGIN_REPLY, WAIT) : undefined
      return { userId, peer, reply }
    },
    sdk(route, userName, reconnect) {
      const client = new CimClient({ routeUrl: route.url, userName, reconnect })
      const got: CimMessage[] = []
      client.on('message', (m) => got.push(m))
      client.on('error', () => {}) // failed reconnect attempts while a broker is down or still listed
      closers.push(() => client.close())
      return { client, got }
    },
  }
}
