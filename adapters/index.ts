/**
 * Builds the whole adapter set from configuration. Memory unless Redis / ZooKeeper are configured;
 * `broker/` and `route/` receive this object and never import a client library themselves.
 */
import type { Accounts } from './accounts/index.ts'
import type { Presence } from './presence/index.ts'
import type { Discovery } from './discovery/index.ts'
import type { Bus } from './bus/index.ts'
import type { Inbox, InboxLimits } from './inbox/index.ts'
import type { Idempotency } from './idempotency/index.ts'
import type { MqttBackendFactory } from './mqtt/index.ts'
import type { Revocations } from './revocations/index.ts'
import type { RateCounter } from './ratelimit/index.ts'
import type { EventLog, EventStreamWriter } from './events/index.ts'
import { MemoryEventLog } from './events/memory.ts'
import { RedisEventLog, RedisEventStream } from './events/redis.ts'
import { MemoryRateCounter } from './ratelimit/memory.ts'
import { RedisRateCounter } from './ratelimit/redis.ts'
import { MemoryAccounts } from './accounts/memory.ts'
import { MemoryPresence } from './presence/memory.ts'
import { MemoryDiscovery } from './discovery/memory.ts'
import { MemoryBus } from './bus/memory.ts'
import { MemoryInbox } from './inbox/memory.ts'
import { MemoryIdempotency } from './idempotency/memory.ts'
import { memoryMqttBackend } from './mqtt/memory.ts'
import { MemoryRevocations } from './revocations/memory.ts'
import type { AdapterSettings } from '../config.ts'
import { codedError } from '../errors.ts'
import { openRedis, quit, warnDurability, DEFAULT_PREFIX, type DurabilityLog } from './redis.ts'
import { RedisAccounts } from './accounts/redis.ts'
import { RedisPresence } from './presence/redis.ts'
import { RedisBus } from './bus/redis.ts'
import { RedisInbox } from './inbox/redis.ts'
import { RedisIdempotency } from './idempotency/redis.ts'
import { redisMqttBackend } from './mqtt/redis.ts'
import { RedisRevocations } from './revocations/redis.ts'
import { ZooKeeperDiscovery } from './discovery/zookeeper.ts'
import { redisProbe, zooKeeperProbe, type BackendProbe } from './health.ts'

export interface Adapters {
  accounts: Accounts
  presence: Presence
  discovery: Discovery
  bus: Bus
  inbox: Inbox
  /** Push idempotency keys (claimed once across route nodes, answer remembered for the window). */
  idempotency: Idempotency
  mqtt: MqttBackendFactory
  /** Token revocation cut-offs per user / device (security/tokens.ts reads them at every check). */
  revocations: Revocations
  /** The route's REST rate-limit counters (route/plugins/ratelimit.ts): shared by route nodes over Redis. */
  rateCounter: RateCounter
  /** The webhook's pending events (events/webhook.ts): bounded in memory, durable and shared in Redis. */
  eventLog: EventLog
  /** Appends to the Redis stream of the `eventStream` setting; only with Redis. */
  eventStream?: EventStreamWriter
  /** The configured backends /ready checks (adapters/health.ts); none with memory adapters. */
  probes?: readonly BackendProbe[]
  /** Closes every adapter (connections to Redis / ZooKeeper). */
  close(): Promise<void>
}

/** The inbox caps (README "Limits"); each defaults to its setting's default. */
export interface AdapterOptions {
  /** Messages per user. */
  inboxMaxPerUser?: number
  /** Stored bytes per user. */
  inboxMaxBytesPerUser?: number
  /** Stored bytes over all users. */
  inboxMaxTotalBytes?: number
  /** Undelivered webhook events a memory event log holds (the `webhookQueueMax` setting). */
  eventLogMax?: number
}

function inboxLimitsOf(opts: AdapterOptions): Partial<InboxLimits> {
  return { maxPerUser: opts.inboxMaxPerUser, maxBytesPerUser: opts.inboxMaxBytesPerUser, maxTotalBytes: opts.inboxMaxTotalBytes }
}

/** The single-process set: everything in memory, nothing external. */
export function createMemoryAdapters(opts: AdapterOptions = {}): Adapters {
  const accounts = new MemoryAccounts()
  const presence = new MemoryPresence()
  const discovery = new MemoryDiscovery()
  const bus = new MemoryBus()
  const inbox = new MemoryInbox(inboxLimitsOf(opts))
  const idempotency = new MemoryIdempotency()
  const revocations = new MemoryRevocations()
  const rateCounter = new MemoryRateCounter()
  const eventLog = new MemoryEventLog(opts.eventLogMax)
  // One in-process mq and persistence shared by every aedes instance of this process, so several
  // brokers built in one process (tests) see each other's retained messages and publishes.
  // aedes closes its mq when it closes; the shared one must outlive any single broker, so each
  // broker gets a view whose close() does nothing and adapters.close() ends the real one.
  const backend = memoryMqttBackend()
  const mq = backend.mq as { close(cb?: () => void): void }
  const sharedMq = new Proxy(mq, {
    get(target, prop) {
      if (prop === 'close') return (cb?: () => void) => cb?.()
      const v = Reflect.get(target, prop) as unknown
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return {
    accounts, presence, discovery, bus, inbox, idempotency, revocations, rateCounter, eventLog,
    mqtt: () => ({ mq: sharedMq, persistence: backend.persistence, retained: backend.retained }),
    async close() {
      await Promise.all([accounts.close(), presence.close(), discovery.close(), bus.close(), inbox.close(), idempotency.close(), revocations.close(), rateCounter.close(), eventLog.close()])
      await new Promise<void>((resolve) => mq.close(() => resolve()))
    },
  }
}

export interface ClusterAdapterOptions extends AdapterOptions {
  /** Prefix of every Redis key and channel. Default `cim:`. */
  redisPrefix?: string
  /** ZooKeeper session timeout: how long a crashed broker stays listed. Default config.zkSessionTimeoutMs, else 10 000 ms. */
  zkSessionTimeoutMs?: number
  /** How long to wait for the first ZooKeeper connection. Default 15 000 ms. */
  zkConnectTimeoutMs?: number
  /** Connection errors that the adapters retry by themselves (for logging). Default: ignored. */
  onError?: (err: Error) => void
  /** Where the start-up check of Redis persistence warns (warnDurability, adapters/redis.ts). Default: not checked. */
  logger?: DurabilityLog
}

type OptionalSettings = 'zkSessionTimeoutMs' | 'inboxMaxBytesPerUser' | 'inboxMaxTotalBytes'

/**
 * The set the configuration asks for: Redis for accounts, presence, bus, inbox and MQTT when
 * `redisUrl` is set; ZooKeeper for discovery when `zookeeper` is set; memory for the rest.
 * Resolves once Redis answers and ZooKeeper's broker list is loaded; fails with
 * CIM_BACKEND_UNAVAILABLE when either cannot be reached.
 */
export async function createAdapters(
  // The adapters' slice of the settings (a whole Config will do); the ZooKeeper session timeout
  // and the inbox byte caps may be left out (their defaults apply).
  config: Omit<AdapterSettings, OptionalSettings> & Partial<Pick<AdapterSettings, OptionalSettings>>,
  opts: ClusterAdapterOptions = {},
): Promise<Adapters> {
  const limits: AdapterOptions = {
    inboxMaxPerUser: opts.inboxMaxPerUser ?? config.inboxMaxPerUser,
    inboxMaxBytesPerUser: opts.inboxMaxBytesPerUser ?? config.inboxMaxBytesPerUser,
    inboxMaxTotalBytes: opts.inboxMaxTotalBytes ?? config.inboxMaxTotalBytes,
    eventLogMax: opts.eventLogMax,
  }
  if (!config.redisUrl && !config.zookeeper) return createMemoryAdapters(limits)
  const memory = createMemoryAdapters(limits)

  let discovery: Discovery = memory.discovery
  const probes: BackendProbe[] = []
  if (config.zookeeper) {
    // Fails with CIM_BACKEND_UNAVAILABLE itself.
    const zk = await ZooKeeperDiscovery.create({
      connectString: config.zookeeper, root: config.zkRoot, onError: opts.onError,
      sessionTimeoutMs: opts.zkSessionTimeoutMs ?? config.zkSessionTimeoutMs, connectTimeoutMs: opts.zkConnectTimeoutMs,
    })
    discovery = zk
    probes.push(zooKeeperProbe(zk))
  }
  if (!config.redisUrl) return { ...memory, discovery, probes, close: async () => { await Promise.all([memory.close(), discovery.close()]) } }

  // One command connection shared by accounts, presence, inbox and bus publishes; the bus adds
  // its subscriber connection and each aedes instance its own mq and persistence connections.
  // Auto-pipelining: commands issued in the same event-loop turn (a login storm, a batch push)
  // leave in one write and their replies come back in one read, instead of a syscall each.
  const client = openRedis(config.redisUrl, opts.onError, { enableAutoPipelining: true })
  try {
    await client.ping()
  } catch (err) {
    client.disconnect()
    await discovery.close()
    throw codedError('BackendUnavailable', `Redis ${config.redisUrl}: ${(err as Error).message}`)
  }
  void warnDurability(client, opts.logger) // once per node; never delays the start
  const shared = { redis: client, prefix: opts.redisPrefix ?? DEFAULT_PREFIX, onError: opts.onError }
  const accounts = new RedisAccounts(shared)
  const presence = new RedisPresence(shared)
  const bus = new RedisBus(shared)
  const inbox = new RedisInbox({ ...shared, ...inboxLimitsOf(limits) })
  const idempotency = new RedisIdempotency(shared)
  const revocations = new RedisRevocations(shared)
  const rateCounter = new RedisRateCounter(shared)
  const eventLog = new RedisEventLog(shared)
  const eventStream = new RedisEventStream(shared)
  const mqtt = redisMqttBackend({ redis: config.redisUrl, prefix: shared.prefix, onError: opts.onError })
  probes.unshift(redisProbe(client))
  return {
    accounts, presence, discovery, bus, inbox, idempotency, revocations, rateCounter, eventLog, eventStream,
    mqtt: mqtt.factory, probes,
    async close() {
      await Promise.all([accounts.close(), presence.close(), discovery.close(), bus.close(), inbox.close(), idempotency.close(), revocations.close(), rateCounter.close(), eventLog.close(), eventStream.close(), mqtt.close()])
      await quit(client)
    },
  }
}

export type { Accounts, Presence, Discovery, Bus, Inbox, Idempotency, Revocations }
