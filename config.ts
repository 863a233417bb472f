/**
 * Every setting, once. The table below is the only spelling: the `Config` type, the defaults, the
 * CLI flags and `--help` (cli.ts), the CIM_* environment variables, the keys a `--config` file may
 * hold, the README "Configuration" table (test/docs.test.ts fails when they differ) and the slice
 * each part receives (BrokerSettings, RouteSettings, AdapterSettings) all derive from it.
 */
import { readFileSync } from 'node:fs'
import { networkInterfaces } from 'node:os'

/** The parts of the system that read settings; each receives only the settings listing it. */
export type Part = 'broker' | 'route' | 'adapters' | 'cli'

interface SettingSpec {
  /** Absent for a `json` setting, which only a config file can hold. */
  flag?: `--${string}`
  env?: `CIM_${string}`
  /** `boolean`: a flag without a value (`--compat`), env `true`/`false`/`1`/`0`. `json`: config file only. */
  kind: 'string' | 'number' | 'boolean' | 'json'
  /** `''` means "none" or "computed at start-up" (then `defaultText` says how, for the docs). */
  default: string | number | boolean | readonly unknown[]
  /** The README's default column when the default is computed at start-up. */
  defaultText?: string
  description: string
  choices?: readonly string[]
  parts: readonly Part[]
}

const table = {
  host: { flag: '--host', env: 'CIM_HOST', kind: 'string', default: '0.0.0.0', parts: ['broker', 'cli'], description: 'interface to bind' },
  // Upstream cim resolves the hostname, which on Debian maps to 127.0.1.1 and sends remote clients
  // to their own loopback; the default is the first non-internal IPv4 (defaultAdvertiseHost).
  advertiseHost: { flag: '--advertise-host', env: 'CIM_ADVERTISE_HOST', kind: 'string', default: '', defaultText: '`host` when it is loopback, else the first non-loopback IPv4', parts: ['broker', 'cli'], description: 'host clients are told to connect to' },
  routePort: { flag: '--route-port', env: 'CIM_ROUTE_PORT', kind: 'number', default: 8083, parts: ['cli'], description: 'route REST port' },
  cimPort: { flag: '--cim-port', env: 'CIM_CIM_PORT', kind: 'number', default: 11211, parts: ['broker'], description: 'broker CIM TCP port' },
  brokerHttpPort: { flag: '--broker-http-port', env: 'CIM_BROKER_HTTP_PORT', kind: 'number', default: 8081, parts: ['broker'], description: 'broker HTTP port (health, metrics)' },
  mqttPort: { flag: '--mqtt-port', env: 'CIM_MQTT_PORT', kind: 'number', default: 1883, parts: ['broker'], description: 'MQTT TCP port' },
  wsPort: { flag: '--ws-port', env: 'CIM_WS_PORT', kind: 'number', default: 9001, parts: ['broker'], description: 'MQTT over WebSocket port' },
  // Upstream's znode naming (brokerIdOf).
  brokerId: { flag: '--broker-id', env: 'CIM_BROKER_ID', kind: 'string', default: '', defaultText: '`host:cimPort:httpPort`', parts: ['broker'], description: 'broker node id (default host:cimPort:httpPort)' },
  strategy: { flag: '--strategy', env: 'CIM_STRATEGY', kind: 'string', default: 'consistent-hash', choices: ['consistent-hash', 'round-robin', 'random', 'least-connections'], parts: ['route'], description: 'broker selection at login' },
  repeatLogin: { flag: '--repeat-login', env: 'CIM_REPEAT_LOGIN', kind: 'string', default: 'reject', choices: ['reject', 'kick-old'], parts: ['broker', 'route'], description: 'second login of an online user' },
  // Upstream: ~30 s.
  readTimeoutMs: { flag: '--read-timeout-ms', env: 'CIM_READ_TIMEOUT_MS', kind: 'number', default: 30_000, parts: ['broker'], description: 'drop a CIM client after this long without a read' },
  // The route refuses a push that would not fit in one frame.
  maxFrameBytes: { flag: '--max-frame-bytes', env: 'CIM_MAX_FRAME_BYTES', kind: 'number', default: 64 * 1024, parts: ['broker', 'route'], description: 'largest CIM frame body accepted' },
  maxQueuedBytes: { flag: '--max-queued-bytes', env: 'CIM_MAX_QUEUED_BYTES', kind: 'number', default: 1024 * 1024, parts: ['broker'], description: 'bytes queued for a slow socket before it is dropped' },
  // Brokers refresh their entries at a third of it.
  presenceTtlMs: { flag: '--presence-ttl-ms', env: 'CIM_PRESENCE_TTL_MS', kind: 'number', default: 30_000, parts: ['broker'], description: 'presence entry TTL, refreshed by broker heartbeats' },
  // Brokers wait this long too, for another broker to kick a replaced login.
  deliveryTimeoutMs: { flag: '--delivery-timeout-ms', env: 'CIM_DELIVERY_TIMEOUT_MS', kind: 'number', default: 2_000, parts: ['broker', 'route'], description: 'route wait for a broker delivery answer' },
  inboxMaxPerUser: { flag: '--inbox-max-per-user', env: 'CIM_INBOX_MAX_PER_USER', kind: 'number', default: 1000, parts: ['adapters', 'route'], description: 'stored messages per user' },
  inboxTtlSeconds: { flag: '--inbox-ttl-seconds', env: 'CIM_INBOX_TTL_SECONDS', kind: 'number', default: 7 * 24 * 3600, parts: ['route'], description: 'lifetime of a stored message' },
  ackTimeoutMs: { flag: '--ack-timeout-ms', env: 'CIM_ACK_TIMEOUT_MS', kind: 'number', default: 10_000, parts: ['broker'], description: 'redeliver unacked qos 1 messages to a proto=2 client after this long without an ACK' },
  idempotencyWindowSeconds: { flag: '--idempotency-window-seconds', env: 'CIM_IDEMPOTENCY_WINDOW_SECONDS', kind: 'number', default: 86_400, parts: ['route'], description: 'how long a push idempotencyKey returns its first answer' },
  devicePushTopic: { flag: '--device-push-topic', env: 'CIM_DEVICE_PUSH_TOPIC', kind: 'string', default: 'devices/{deviceId}/push', parts: ['broker', 'route'], description: 'per-device push topic ({deviceId} replaced)' },
  broadcastTopic: { flag: '--broadcast-topic', env: 'CIM_BROADCAST_TOPIC', kind: 'string', default: 'devices/broadcast', parts: ['broker', 'route'], description: 'topic every device is subscribed to' },
  uplinkPrefix: { flag: '--uplink-prefix', env: 'CIM_UPLINK_PREFIX', kind: 'string', default: 'uplink/', parts: ['broker'], description: 'device publishes under this prefix are relayed' },
  logLevel: { flag: '--log-level', env: 'CIM_LOG_LEVEL', kind: 'string', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], parts: ['cli'], description: 'log level' },
  // When set, accounts, presence, bus, inbox and MQTT use Redis.
  redisUrl: { flag: '--redis', env: 'CIM_REDIS_URL', kind: 'string', default: '', parts: ['adapters'], description: 'Redis URL (cluster mode)' },
  // When set, discovery uses ZooKeeper.
  zookeeper: { flag: '--zookeeper', env: 'CIM_ZOOKEEPER', kind: 'string', default: '', parts: ['adapters'], description: 'ZooKeeper connect string (cluster mode)' },
  zkRoot: { flag: '--zk-root', env: 'CIM_ZK_ROOT', kind: 'string', default: '/cim', parts: ['adapters'], description: 'ZooKeeper root path' },
  zkSessionTimeoutMs: { flag: '--zk-session-timeout-ms', env: 'CIM_ZK_SESSION_TIMEOUT_MS', kind: 'number', default: 10_000, parts: ['adapters'], description: 'ZooKeeper session timeout: how long a crashed broker stays listed' },
  // Loaded by cli.ts / createNode (hooks.ts): the operator's own code without a fork.
  hooks: { flag: '--hooks', env: 'CIM_HOOKS', kind: 'string', default: '', parts: ['cli'], description: 'ES module (path from the working directory) exporting auth, uplink and/or balancer hooks' },
  webhookUrl: { flag: '--webhook-url', env: 'CIM_WEBHOOK_URL', kind: 'string', default: '', parts: ['broker', 'route'], description: 'backend URL that receives event batches by HTTP POST (README "Events to your backend"); empty: no webhook' },
  webhookSecret: { flag: '--webhook-secret', env: 'CIM_WEBHOOK_SECRET', kind: 'string', default: '', parts: ['broker', 'route'], description: 'HMAC-SHA256 key signing every webhook and auth-webhook request (X-Cim-Signature)' },
  webhookEvents: { flag: '--webhook-events', env: 'CIM_WEBHOOK_EVENTS', kind: 'string', default: '*', parts: ['broker', 'route'], description: 'event types the webhook receives: *, types, or prefixes such as device.*, comma separated' },
  webhookBatchSize: { flag: '--webhook-batch-size', env: 'CIM_WEBHOOK_BATCH_SIZE', kind: 'number', default: 100, parts: ['broker', 'route'], description: 'events per webhook POST at most' },
  webhookBatchMs: { flag: '--webhook-batch-ms', env: 'CIM_WEBHOOK_BATCH_MS', kind: 'number', default: 200, parts: ['broker', 'route'], description: 'how long a webhook batch waits to fill before it is sent' },
  webhookTimeoutMs: { flag: '--webhook-timeout-ms', env: 'CIM_WEBHOOK_TIMEOUT_MS', kind: 'number', default: 5_000, parts: ['broker', 'route'], description: 'a webhook POST not answered 2xx by then is retried' },
  webhookMaxAttempts: { flag: '--webhook-max-attempts', env: 'CIM_WEBHOOK_MAX_ATTEMPTS', kind: 'number', default: 10, parts: ['broker', 'route'], description: 'tries of one batch (exponential backoff with jitter) before its events become dead letters' },
  webhookQueueMax: { flag: '--webhook-queue-max', env: 'CIM_WEBHOOK_QUEUE_MAX', kind: 'number', default: 100_000, parts: ['broker', 'route'], description: 'events waiting for the webhook per node; more are dropped, counted and logged' },
  eventStream: { flag: '--event-stream', env: 'CIM_EVENT_STREAM', kind: 'string', default: '', parts: ['broker', 'route'], description: 'Redis stream key that receives every event (XADD; needs --redis), e.g. cim:events; empty: off' },
  eventStreamEvents: { flag: '--event-stream-events', env: 'CIM_EVENT_STREAM_EVENTS', kind: 'string', default: '*', parts: ['broker', 'route'], description: 'event types the Redis stream receives (as --webhook-events)' },
  eventStreamMaxLen: { flag: '--event-stream-max-len', env: 'CIM_EVENT_STREAM_MAX_LEN', kind: 'number', default: 100_000, parts: ['broker', 'route'], description: 'approximate length cap of the event stream (XADD MAXLEN ~)' },
  authWebhookUrl: { flag: '--auth-webhook-url', env: 'CIM_AUTH_WEBHOOK_URL', kind: 'string', default: '', parts: ['broker', 'route'], description: 'backend URL asked to allow or deny each CIM login and MQTT CONNECT (fail-closed); empty: off' },
  authWebhookTimeoutMs: { flag: '--auth-webhook-timeout-ms', env: 'CIM_AUTH_WEBHOOK_TIMEOUT_MS', kind: 'number', default: 2_000, parts: ['broker', 'route'], description: 'an auth webhook not answering by then refuses the connection (CIM_AUTH_UNAVAILABLE)' },
  authWebhookCacheSeconds: { flag: '--auth-webhook-cache-seconds', env: 'CIM_AUTH_WEBHOOK_CACHE_SECONDS', kind: 'number', default: 10, parts: ['broker', 'route'], description: 'how long an auth webhook decision is reused for the same identity and credentials (0: never)' },
  // Security (docs/security.md). With none of these set, a node runs open (the laptop default).
  compat: { flag: '--compat', env: 'CIM_COMPAT', kind: 'boolean', default: false, defaultText: '`true` for `cim start`, else `false`', parts: ['broker', 'route'], description: 'upstream-compatible endpoints and token-less CIM logins (the upstream trust model)' },
  insecure: { flag: '--insecure', env: 'CIM_INSECURE', kind: 'boolean', default: false, parts: ['cli'], description: 'run cim broker / cim route without API keys and a token key, or cim start on a non-loopback interface with security off' },
  apiKeys: { flag: '--api-keys', env: 'CIM_API_KEYS', kind: 'string', default: '', parts: ['route'], description: 'comma-separated REST API keys with full access (push, read, admin)' },
  namedApiKeys: { kind: 'json', default: [], defaultText: 'config file only', parts: ['route'], description: 'named REST API keys stored as hashes, with scopes: `[{"name": "billing", "sha256": "<hex>", "scopes": ["push", "read", "admin"]}]`' },
  tokenSecret: { flag: '--token-secret', env: 'CIM_TOKEN_SECRET', kind: 'string', default: '', parts: ['broker', 'route'], description: 'HS256 secret that signs and verifies user and device tokens (JWT)' },
  tokenPublicKey: { flag: '--token-public-key', env: 'CIM_TOKEN_PUBLIC_KEY', kind: 'string', default: '', parts: ['broker', 'route'], description: 'PEM file: verify RS256/ES256 user and device tokens' },
  tokenPrivateKey: { flag: '--token-private-key', env: 'CIM_TOKEN_PRIVATE_KEY', kind: 'string', default: '', parts: ['route'], description: 'PEM file: lets the route mint RS256/ES256 tokens (else only the backend signs them)' },
  tokenTtlSeconds: { flag: '--token-ttl-seconds', env: 'CIM_TOKEN_TTL_SECONDS', kind: 'number', default: 3600, parts: ['route'], description: 'lifetime of the tokens the route mints' },
  tlsCert: { flag: '--tls-cert', env: 'CIM_TLS_CERT', kind: 'string', default: '', parts: ['broker', 'route'], description: 'PEM certificate (chain) for TLS on every listener; reloaded on SIGHUP and on change' },
  tlsKey: { flag: '--tls-key', env: 'CIM_TLS_KEY', kind: 'string', default: '', parts: ['broker', 'route'], description: 'PEM private key of --tls-cert' },
  mqttsPort: { flag: '--mqtts-port', env: 'CIM_MQTTS_PORT', kind: 'number', default: 8883, parts: ['broker'], description: 'MQTT over TLS port (with --tls-cert)' },
  wssPort: { flag: '--wss-port', env: 'CIM_WSS_PORT', kind: 'number', default: 9443, parts: ['broker'], description: 'MQTT over secure WebSocket port (with --tls-cert)' },
  cimTlsPort: { flag: '--cim-tls-port', env: 'CIM_CIM_TLS_PORT', kind: 'number', default: 11443, parts: ['broker'], description: 'CIM over TLS port (with --tls-cert)' },
  wsOrigins: { flag: '--ws-origins', env: 'CIM_WS_ORIGINS', kind: 'string', default: '', parts: ['broker'], description: 'comma-separated Origin allow-list for MQTT over WebSocket (empty: any Origin)' },
  mqttAcl: { kind: 'json', default: [], defaultText: 'config file only', parts: ['broker'], description: 'operator MQTT rules, checked in order before the built-in ones: `[{"permission": "allow", "action": "publish", "topic": "sensors/{clientId}/#"}]`' },
  // Limits (README "Limits"): nothing a client or caller sends is unbounded.
  loginTimeoutMs: { flag: '--login-timeout-ms', env: 'CIM_LOGIN_TIMEOUT_MS', kind: 'number', default: 10_000, parts: ['broker'], description: 'a CIM connection that has not logged in by then is closed (CIM_LOGIN_DEADLINE)' },
  maxConnections: { flag: '--max-connections', env: 'CIM_MAX_CONNECTIONS', kind: 'number', default: 100_000, parts: ['broker'], description: 'CIM connections per broker; more are refused (CIM_TOO_MANY_CONNECTIONS)' },
  listenBacklog: { flag: '--listen-backlog', env: 'CIM_LISTEN_BACKLOG', kind: 'number', default: 4096, parts: ['broker', 'route'], description: 'connections each listener (CIM, MQTT, route) queues before accepting them (the kernel caps it at net.core.somaxconn); a reconnect storm beyond it loses SYNs and waits out TCP retries' },
  maxPendingFrameBytes: { flag: '--max-pending-frame-bytes', env: 'CIM_MAX_PENDING_FRAME_BYTES', kind: 'number', default: 64 * 1024 * 1024, parts: ['broker'], description: 'bytes of partial CIM frames buffered across all connections of a broker' },
  mqttMaxPacketBytes: { flag: '--mqtt-max-packet-bytes', env: 'CIM_MQTT_MAX_PACKET_BYTES', kind: 'number', default: 1024 * 1024, parts: ['broker'], description: 'largest MQTT packet accepted' },
  mqttMaxQueuedBytes: { flag: '--mqtt-max-queued-bytes', env: 'CIM_MQTT_MAX_QUEUED_BYTES', kind: 'number', default: 1024 * 1024, parts: ['broker'], description: 'bytes queued for a slow MQTT client before it is disconnected (CIM_SLOW_CONSUMER)' },
  mqttMaxKeepaliveSeconds: { flag: '--mqtt-max-keepalive-seconds', env: 'CIM_MQTT_MAX_KEEPALIVE_SECONDS', kind: 'number', default: 300, parts: ['broker'], description: 'longest MQTT keepalive honoured; 0 or more is treated as this' },
  mqttMaxClientIdBytes: { flag: '--mqtt-max-client-id-bytes', env: 'CIM_MQTT_MAX_CLIENT_ID_BYTES', kind: 'number', default: 256, parts: ['broker'], description: 'longest MQTT client id (UTF-8 bytes)' },
  retainedMaxCount: { flag: '--retained-max-count', env: 'CIM_RETAINED_MAX_COUNT', kind: 'number', default: 100_000, parts: ['broker'], description: 'retained MQTT messages kept' },
  retainedMaxBytes: { flag: '--retained-max-bytes', env: 'CIM_RETAINED_MAX_BYTES', kind: 'number', default: 256 * 1024 * 1024, parts: ['broker'], description: 'total payload bytes of retained MQTT messages' },
  retainedMaxMessageBytes: { flag: '--retained-max-message-bytes', env: 'CIM_RETAINED_MAX_MESSAGE_BYTES', kind: 'number', default: 256 * 1024, parts: ['broker'], description: 'largest retained MQTT payload' },
  inboxMaxBytesPerUser: { flag: '--inbox-max-bytes-per-user', env: 'CIM_INBOX_MAX_BYTES_PER_USER', kind: 'number', default: 8 * 1024 * 1024, parts: ['adapters', 'route'], description: 'stored message bytes per user (CIM_INBOX_FULL)' },
  inboxMaxTotalBytes: { flag: '--inbox-max-total-bytes', env: 'CIM_INBOX_MAX_TOTAL_BYTES', kind: 'number', default: 1024 * 1024 * 1024, parts: ['adapters', 'route'], description: 'stored message bytes over all users (CIM_STORAGE_FULL)' },
  maxStoredBytesPerRequest: { flag: '--max-stored-bytes-per-request', env: 'CIM_MAX_STORED_BYTES_PER_REQUEST', kind: 'number', default: 16 * 1024 * 1024, parts: ['route'], description: 'bytes one qos 1 push request may store (message size × users)' },
  maxBatchItems: { flag: '--max-batch-items', env: 'CIM_MAX_BATCH_ITEMS', kind: 'number', default: 1000, parts: ['route'], description: 'items in one batch (userIds of a push, batchMsg of /p2pRoute)' },
  rateLimitPerKey: { flag: '--rate-limit-per-key', env: 'CIM_RATE_LIMIT_PER_KEY', kind: 'number', default: 20_000, parts: ['route'], description: 'REST requests per second per API key (0: no limit; CIM_RATE_LIMITED)' },
  rateLimitPerAddress: { flag: '--rate-limit-per-address', env: 'CIM_RATE_LIMIT_PER_ADDRESS', kind: 'number', default: 20_000, parts: ['route'], description: 'REST requests per second per source address without an API key (0: no limit)' },
  registrationsPerAddress: { flag: '--registrations-per-address', env: 'CIM_REGISTRATIONS_PER_ADDRESS', kind: 'number', default: 50, parts: ['route'], description: 'user registrations per minute per API key or source address' },
} as const satisfies Record<string, SettingSpec>

type Table = typeof table
/** A named REST API key as the config file holds it: the key's SHA-256 (hex), never the key. */
export interface NamedApiKey { name: string; sha256: string; scopes: Array<'push' | 'read' | 'admin'> }
/** One operator MQTT rule; `{clientId}` in `topic` stands for the client's own id. */
export interface MqttAclRule { permission: 'allow' | 'deny'; action: 'publish' | 'subscribe'; topic: string }
/** The type of each `json` setting. */
interface JsonSettings { namedApiKeys: NamedApiKey[]; mqttAcl: MqttAclRule[] }

type ValueOf<K, S> = K extends keyof JsonSettings ? JsonSettings[K]
  : S extends { choices: readonly (infer C)[] } ? C : S extends { kind: 'number' } ? number : S extends { kind: 'boolean' } ? boolean : string

/** Every setting with its type: a `choices` setting is the union of its choices. */
export type Config = { -readonly [K in keyof Table]: ValueOf<K, Table[K]> }

/** The keys a part reads (`parts` in the table). */
export type KeysOf<P extends Part> = { [K in keyof Table]: P extends Table[K]['parts'][number] ? K : never }[keyof Table]
export type BrokerSettings = Pick<Config, KeysOf<'broker'>>
export type RouteSettings = Pick<Config, KeysOf<'route'>>
export type AdapterSettings = Pick<Config, KeysOf<'adapters'>>

export type BalanceStrategy = Config['strategy']
export type RepeatLoginPolicy = Config['repeatLogin']

export interface Setting extends SettingSpec {
  key: keyof Config
}

/** The table as a list, in its order (the order of `--help` and of the README table). */
export const settings: readonly Setting[] = Object.entries(table).map(([key, spec]) => ({ key: key as keyof Config, ...spec }))

export const defaults: Readonly<Config> = Object.freeze(Object.fromEntries(settings.map((s) => [s.key, s.default])) as Config)

/** The README "Configuration" table rows (scripts/readme-tables.ts prints them; test/docs.test.ts compares). */
export function settingsTableRows(): string[] {
  return settings.map((s) => {
    const d = s.defaultText ?? (s.default === '' ? '—' : `\`${s.default}\``)
    const flag = s.flag ? `\`${s.flag}\`` : `\`${s.key}\` (file)`
    const env = s.env ? `\`${s.env}\`` : '—'
    return `| ${flag} | ${env} | ${d} | ${s.description}${s.choices ? ` (${s.choices.join(', ')})` : ''} |`
  })
}

/** A value for setting `s`, checked: a non-negative number, a boolean, a JSON list, or one of the choices. */
function parse(s: Setting, raw: unknown, source: string): unknown {
  if (s.kind === 'number') {
    const n = Number(raw)
    if (typeof raw === 'boolean' || !Number.isFinite(n) || n < 0) throw new Error(`${source}: expected a non-negative number, got "${String(raw)}"`)
    return n
  }
  if (s.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw
    const v = String(raw).toLowerCase()
    if (['1', 'true', 'yes', 'on'].includes(v)) return true
    if (['0', 'false', 'no', 'off'].includes(v)) return false
    throw new Error(`${source}: expected true or false, got "${String(raw)}"`)
  }
  if (s.kind === 'json') {
    // Each item's shape is checked by the part that reads it (security/), with a clear error.
    if (!Array.isArray(raw)) throw new Error(`${source}: expected a JSON list, got ${JSON.stringify(raw)}`)
    return raw
  }
  const v = String(raw)
  if (s.choices && !s.choices.includes(v)) throw new Error(`${source}: expected one of ${s.choices.join(', ')}, got "${v}"`)
  return v
}

/**
 * Reads a JSON config file whose keys are Config keys (`{"cimPort": 11212, "redisUrl": "..."}`).
 * Unknown keys are refused so a typo does not silently fall back to a default, and so is a value
 * of the wrong JSON type (`"cimPort": "11212"`), a negative number or a value outside the choices.
 */
export function readConfigFile(path: string): Partial<Config> {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new Error(`config file ${path}: ${(err as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`config file ${path}: expected a JSON object`)
  const byKey = new Map<string, Setting>(settings.map((s) => [s.key, s]))
  for (const [key, value] of Object.entries(parsed)) {
    const s = byKey.get(key)
    if (!s) throw new Error(`config file ${path}: unknown setting "${key}" (known: ${[...byKey.keys()].join(', ')})`)
    const jsonType = s.kind === 'json' ? 'object' : s.kind
    if (typeof value !== jsonType) throw new Error(`config file ${path}: "${key}" must be a ${s.kind === 'json' ? 'JSON list' : s.kind}, got ${JSON.stringify(value)}`)
    parse(s, value, `config file ${path}: "${key}"`)
  }
  return parsed as Partial<Config>
}

/**
 * Resolves configuration: defaults < the process mode's defaults (`cim start` binds loopback and
 * turns compat on) < config file < environment < explicit values (CLI flags, test overrides).
 * Throws a clear error for a value that is not a number, a boolean, or one of the choices.
 */
export function resolveConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env, file: Partial<Config> = {}, modeDefaults: Partial<Config> = {}): Config {
  const out: Config = { ...defaults, ...modeDefaults }
  const target = out as unknown as Record<string, unknown>
  for (const s of settings) {
    const raw = overrides[s.key] ?? (s.env ? env[s.env] : undefined) ?? file[s.key]
    if (raw === undefined || raw === '') continue
    target[s.key] = parse(s, raw, s.flag ? `${s.flag} / ${s.env}` : `"${s.key}"`)
  }
  // A node bound to loopback can only be reached there (the `cim start` default): advertise that.
  if (!out.advertiseHost) out.advertiseHost = isLoopbackHost(out.host) ? out.host : defaultAdvertiseHost()
  return out
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
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
