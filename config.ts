/**
 * Every setting in one place, with its default, its environment variable and its CLI flag.
 * The CLI builds `--help` from this table, so documentation and behaviour cannot drift apart.
 */
import { readFileSync } from 'node:fs'
import { networkInterfaces } from 'node:os'

export type BalanceStrategy = 'consistent-hash' | 'round-robin' | 'random' | 'least-connections'
export type RepeatLoginPolicy = 'reject' | 'kick-old'

export interface Config {
  /** Interface the servers bind to. Default 0.0.0.0. */
  host: string
  /** Host advertised to clients in login answers and discovery. Default: first non-internal IPv4, else 127.0.0.1. */
  advertiseHost: string
  routePort: number
  cimPort: number
  brokerHttpPort: number
  mqttPort: number
  wsPort: number
  /** Broker node id. Default `host:cimPort:httpPort` (upstream znode naming). */
  brokerId: string
  strategy: BalanceStrategy
  repeatLogin: RepeatLoginPolicy
  /** Drop a CIM client after this many ms without a read (upstream: ~30 s). */
  readTimeoutMs: number
  /** Largest accepted CIM frame body. Default 64 KiB. */
  maxFrameBytes: number
  /** Bytes queued for one slow socket before it is disconnected. Default 1 MiB. */
  maxQueuedBytes: number
  /** Presence TTL; brokers refresh at a third of it. Default 30 s. */
  presenceTtlMs: number
  /** How long a route waits for a broker's delivery answer. Default 2 s. */
  deliveryTimeoutMs: number
  inboxMaxPerUser: number
  inboxTtlSeconds: number
  /** proto=2: redeliver unacked messages on the same connection after this long without ack progress. Default 10 s. */
  ackTimeoutMs: number
  /** How long a push's idempotencyKey is remembered (its first answer is returned again). Default 1 day. */
  idempotencyWindowSeconds: number
  /** Device push topic; `{deviceId}` is replaced. */
  devicePushTopic: string
  broadcastTopic: string
  /** Device publishes under this prefix are handed to the uplink relay. */
  uplinkPrefix: string
  logLevel: string
  /** Redis URL; when set, accounts/presence/bus/inbox/mqtt use Redis. */
  redisUrl: string
  /** ZooKeeper connect string; when set, discovery uses ZooKeeper. */
  zookeeper: string
  zkRoot: string
  /** ZooKeeper session timeout: how long a crashed broker stays listed. Default 10 s. */
  zkSessionTimeoutMs: number
}

export interface Setting {
  key: keyof Config
  flag: string
  env: string
  description: string
  kind: 'string' | 'number'
  choices?: readonly string[]
}

export const settings: Setting[] = [
  { key: 'host', flag: '--host', env: 'CIM_HOST', kind: 'string', description: 'interface to bind' },
  { key: 'advertiseHost', flag: '--advertise-host', env: 'CIM_ADVERTISE_HOST', kind: 'string', description: 'host clients are told to connect to' },
  { key: 'routePort', flag: '--route-port', env: 'CIM_ROUTE_PORT', kind: 'number', description: 'route REST port' },
  { key: 'cimPort', flag: '--cim-port', env: 'CIM_CIM_PORT', kind: 'number', description: 'broker CIM TCP port' },
  { key: 'brokerHttpPort', flag: '--broker-http-port', env: 'CIM_BROKER_HTTP_PORT', kind: 'number', description: 'broker HTTP port (health, metrics)' },
  { key: 'mqttPort', flag: '--mqtt-port', env: 'CIM_MQTT_PORT', kind: 'number', description: 'MQTT TCP port' },
  { key: 'wsPort', flag: '--ws-port', env: 'CIM_WS_PORT', kind: 'number', description: 'MQTT over WebSocket port' },
  { key: 'brokerId', flag: '--broker-id', env: 'CIM_BROKER_ID', kind: 'string', description: 'broker node id (default host:cimPort:httpPort)' },
  { key: 'strategy', flag: '--strategy', env: 'CIM_STRATEGY', kind: 'string', choices: ['consistent-hash', 'round-robin', 'random', 'least-connections'], description: 'broker selection at login' },
  { key: 'repeatLogin', flag: '--repeat-login', env: 'CIM_REPEAT_LOGIN', kind: 'string', choices: ['reject', 'kick-old'], description: 'second login of an online user' },
  { key: 'readTimeoutMs', flag: '--read-timeout-ms', env: 'CIM_READ_TIMEOUT_MS', kind: 'number', description: 'drop a CIM client after this long without a read' },
  { key: 'maxFrameBytes', flag: '--max-frame-bytes', env: 'CIM_MAX_FRAME_BYTES', kind: 'number', description: 'largest CIM frame body accepted' },
  { key: 'maxQueuedBytes', flag: '--max-queued-bytes', env: 'CIM_MAX_QUEUED_BYTES', kind: 'number', description: 'bytes queued for a slow socket before it is dropped' },
  { key: 'presenceTtlMs', flag: '--presence-ttl-ms', env: 'CIM_PRESENCE_TTL_MS', kind: 'number', description: 'presence entry TTL, refreshed by broker heartbeats' },
  { key: 'deliveryTimeoutMs', flag: '--delivery-timeout-ms', env: 'CIM_DELIVERY_TIMEOUT_MS', kind: 'number', description: 'route wait for a broker delivery answer' },
  { key: 'inboxMaxPerUser', flag: '--inbox-max-per-user', env: 'CIM_INBOX_MAX_PER_USER', kind: 'number', description: 'stored messages per user' },
  { key: 'inboxTtlSeconds', flag: '--inbox-ttl-seconds', env: 'CIM_INBOX_TTL_SECONDS', kind: 'number', description: 'lifetime of a stored message' },
  { key: 'ackTimeoutMs', flag: '--ack-timeout-ms', env: 'CIM_ACK_TIMEOUT_MS', kind: 'number', description: 'redeliver unacked qos 1 messages to a proto=2 client after this long without an ACK' },
  { key: 'idempotencyWindowSeconds', flag: '--idempotency-window-seconds', env: 'CIM_IDEMPOTENCY_WINDOW_SECONDS', kind: 'number', description: 'how long a push idempotencyKey returns its first answer' },
  { key: 'devicePushTopic', flag: '--device-push-topic', env: 'CIM_DEVICE_PUSH_TOPIC', kind: 'string', description: 'per-device push topic ({deviceId} replaced)' },
  { key: 'broadcastTopic', flag: '--broadcast-topic', env: 'CIM_BROADCAST_TOPIC', kind: 'string', description: 'topic every device is subscribed to' },
  { key: 'uplinkPrefix', flag: '--uplink-prefix', env: 'CIM_UPLINK_PREFIX', kind: 'string', description: 'device publishes under this prefix are relayed' },
  { key: 'logLevel', flag: '--log-level', env: 'CIM_LOG_LEVEL', kind: 'string', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'log level' },
  { key: 'redisUrl', flag: '--redis', env: 'CIM_REDIS_URL', kind: 'string', description: 'Redis URL (cluster mode)' },
  { key: 'zookeeper', flag: '--zookeeper', env: 'CIM_ZOOKEEPER', kind: 'string', description: 'ZooKeeper connect string (cluster mode)' },
  { key: 'zkRoot', flag: '--zk-root', env: 'CIM_ZK_ROOT', kind: 'string', description: 'ZooKeeper root path' },
  { key: 'zkSessionTimeoutMs', flag: '--zk-session-timeout-ms', env: 'CIM_ZK_SESSION_TIMEOUT_MS', kind: 'number', description: 'ZooKeeper session timeout: how long a crashed broker stays listed' },
]

export const defaults: Config = {
  host: '0.0.0.0',
  advertiseHost: '',
  routePort: 8083,
  cimPort: 11211,
  brokerHttpPort: 8081,
  mqttPort: 1883,
  wsPort: 9001,
  brokerId: '',
  strategy: 'consistent-hash',
  repeatLogin: 'reject',
  readTimeoutMs: 30_000,
  maxFrameBytes: 64 * 1024,
  maxQueuedBytes: 1024 * 1024,
  presenceTtlMs: 30_000,
  deliveryTimeoutMs: 2_000,
  inboxMaxPerUser: 1000,
  inboxTtlSeconds: 7 * 24 * 3600,
  ackTimeoutMs: 10_000,
  idempotencyWindowSeconds: 86_400,
  devicePushTopic: 'devices/{deviceId}/push',
  broadcastTopic: 'devices/broadcast',
  uplinkPrefix: 'uplink/',
  logLevel: 'info',
  redisUrl: '',
  zookeeper: '',
  zkRoot: '/cim',
  zkSessionTimeoutMs: 10_000,
}

/**
 * Reads a JSON config file whose keys are Config keys (`{"cimPort": 11212, "redisUrl": "..."}`).
 * Unknown keys are refused so a typo does not silently fall back to a default.
 */
export function readConfigFile(path: string): Partial<Config> {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new Error(`config file ${path}: ${(err as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`config file ${path}: expected a JSON object`)
  const known = new Set<string>(settings.map((s) => s.key))
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw new Error(`config file ${path}: unknown setting "${key}" (known: ${[...known].join(', ')})`)
  }
  return parsed as Partial<Config>
}

/**
 * Resolves configuration: defaults < config file < environment < explicit values (CLI flags,
 * test overrides). Throws a clear error for a value that is not a number or not one of the choices.
 */
export function resolveConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env, file: Partial<Config> = {}): Config {
  const out: Config = { ...defaults }
  const target = out as unknown as Record<string, string | number>
  for (const s of settings) {
    const raw = overrides[s.key] ?? env[s.env] ?? file[s.key]
    if (raw === undefined || raw === '') continue
    if (s.kind === 'number') {
      const n = Number(raw)
      if (!Number.isFinite(n) || n < 0) throw new Error(`${s.flag} / ${s.env}: expected a non-negative number, got "${raw}"`)
      target[s.key] = n
    } else {
      const v = String(raw)
      if (s.choices && !s.choices.includes(v)) throw new Error(`${s.flag} / ${s.env}: expected one of ${s.choices.join(', ')}, got "${v}"`)
      target[s.key] = v
    }
  }
  if (!out.advertiseHost) out.advertiseHost = defaultAdvertiseHost()
  return out
}


/**
 * First non-internal IPv4 address. Upstream cim resolves the hostname, which on Debian maps to
 * 127.0.1.1 and sends remote clients to their own loopback; we never pick a loopback alias.
 */
export function defaultAdvertiseHost(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

/** The default broker id: the upstream znode name `ip:cimPort:httpPort`. */
export function brokerIdOf(c: Pick<Config, 'brokerId' | 'advertiseHost' | 'cimPort' | 'brokerHttpPort'>): string {
  return c.brokerId || `${c.advertiseHost}:${c.cimPort}:${c.brokerHttpPort}`
}
