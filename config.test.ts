import { mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { describe, it, expect, expectTypeOf } from 'vitest'
import {
  brokerIdOf, defaults, readConfigFile, resolveConfig, settings,
  type AdapterSettings, type BrokerSettings, type Config, type RouteSettings,
} from './config.ts'

/** A valid value for a setting other than its default. */
const sample = (s: (typeof settings)[number]): unknown =>
  s.choices ? s.choices[s.choices.length - 1]
    : s.kind === 'number' ? 4242
    : s.kind === 'boolean' ? !s.default
    : s.kind === 'json' ? [{ sample: s.key }]
    : `v-${s.key}`

function writeJson(value: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cim-config-')), 'c.json')
  writeFileSync(file, JSON.stringify(value))
  return file
}

describe('resolveConfig', () => {
  it('uses the upstream cim default ports', () => {
    const c = resolveConfig({}, {})
    expect([c.routePort, c.cimPort, c.brokerHttpPort, c.mqttPort, c.wsPort]).toEqual([8083, 11211, 8081, 1883, 9001])
    expect(c.strategy).toBe('consistent-hash')
  })

  it('reads environment variables, and explicit values win over them', () => {
    const env = { CIM_CIM_PORT: '12000', CIM_REPEAT_LOGIN: 'kick-old' }
    expect(resolveConfig({}, env).cimPort).toBe(12000)
    expect(resolveConfig({}, env).repeatLogin).toBe('kick-old')
    expect(resolveConfig({ cimPort: 13000 }, env).cimPort).toBe(13000)
  })

  it('rejects a non-number and a value outside the choices with a clear message', () => {
    expect(() => resolveConfig({}, { CIM_ROUTE_PORT: 'eighty' })).toThrow(/--route-port \/ CIM_ROUTE_PORT: expected a non-negative number/)
    expect(() => resolveConfig({}, { CIM_STRATEGY: 'fastest' })).toThrow(/expected one of consistent-hash/)
  })

  it('never advertises a loopback alias like 127.0.1.1 by default', () => {
    const host = resolveConfig({}, {}).advertiseHost
    expect(host === '127.0.0.1' || !host.startsWith('127.')).toBe(true)
  })

  it('names a broker ip:cimPort:httpPort unless an id is given', () => {
    expect(brokerIdOf({ ...defaults, advertiseHost: '10.0.0.5' })).toBe('10.0.0.5:11211:8081')
    expect(brokerIdOf({ ...defaults, brokerId: 'b1' })).toBe('b1')
  })
})

describe('the settings table', () => {
  it('keeps every flag, variable and default of the contract', () => {
    // Operators' scripts and deployments use these names: renaming one is a breaking change.
    expect(settings.map((s) => `${s.flag ?? s.key} ${s.env ?? '-'} ${s.default}`)).toEqual([
      '--host CIM_HOST 0.0.0.0', '--advertise-host CIM_ADVERTISE_HOST ', '--route-port CIM_ROUTE_PORT 8083',
      '--cim-port CIM_CIM_PORT 11211', '--broker-http-port CIM_BROKER_HTTP_PORT 8081', '--mqtt-port CIM_MQTT_PORT 1883',
      '--ws-port CIM_WS_PORT 9001', '--broker-id CIM_BROKER_ID ', '--strategy CIM_STRATEGY consistent-hash',
      '--repeat-login CIM_REPEAT_LOGIN reject', '--read-timeout-ms CIM_READ_TIMEOUT_MS 30000',
      '--max-frame-bytes CIM_MAX_FRAME_BYTES 65536', '--max-queued-bytes CIM_MAX_QUEUED_BYTES 1048576',
      '--presence-ttl-ms CIM_PRESENCE_TTL_MS 30000', '--delivery-timeout-ms CIM_DELIVERY_TIMEOUT_MS 2000',
      '--inbox-max-per-user CIM_INBOX_MAX_PER_USER 1000', '--inbox-ttl-seconds CIM_INBOX_TTL_SECONDS 604800',
      '--ack-timeout-ms CIM_ACK_TIMEOUT_MS 10000', '--idempotency-window-seconds CIM_IDEMPOTENCY_WINDOW_SECONDS 86400',
      '--device-push-topic CIM_DEVICE_PUSH_TOPIC devices/{deviceId}/push', '--broadcast-topic CIM_BROADCAST_TOPIC devices/broadcast',
      '--uplink-prefix CIM_UPLINK_PREFIX uplink/', '--log-level CIM_LOG_LEVEL info', '--redis CIM_REDIS_URL ',
      '--zookeeper CIM_ZOOKEEPER ', '--zk-root CIM_ZK_ROOT /cim', '--zk-session-timeout-ms CIM_ZK_SESSION_TIMEOUT_MS 10000',
      '--hooks CIM_HOOKS ', '--webhook-url CIM_WEBHOOK_URL ', '--webhook-secret CIM_WEBHOOK_SECRET ', '--webhook-events CIM_WEBHOOK_EVENTS *',
      '--webhook-batch-size CIM_WEBHOOK_BATCH_SIZE 100', '--webhook-batch-ms CIM_WEBHOOK_BATCH_MS 200', '--webhook-timeout-ms CIM_WEBHOOK_TIMEOUT_MS 5000',
      '--webhook-max-attempts CIM_WEBHOOK_MAX_ATTEMPTS 10', '--webhook-queue-max CIM_WEBHOOK_QUEUE_MAX 100000', '--event-stream CIM_EVENT_STREAM ',
      '--event-stream-events CIM_EVENT_STREAM_EVENTS *', '--event-stream-max-len CIM_EVENT_STREAM_MAX_LEN 100000', '--auth-webhook-url CIM_AUTH_WEBHOOK_URL ',
      '--auth-webhook-timeout-ms CIM_AUTH_WEBHOOK_TIMEOUT_MS 2000', '--auth-webhook-cache-seconds CIM_AUTH_WEBHOOK_CACHE_SECONDS 10', '--compat CIM_COMPAT false', '--insecure CIM_INSECURE false', '--api-keys CIM_API_KEYS ',
      'namedApiKeys - ', '--token-secret CIM_TOKEN_SECRET ', '--token-public-key CIM_TOKEN_PUBLIC_KEY ',
      '--token-private-key CIM_TOKEN_PRIVATE_KEY ', '--token-ttl-seconds CIM_TOKEN_TTL_SECONDS 3600',
      '--tls-cert CIM_TLS_CERT ', '--tls-key CIM_TLS_KEY ', '--mqtts-port CIM_MQTTS_PORT 8883', '--wss-port CIM_WSS_PORT 9443',
      '--cim-tls-port CIM_CIM_TLS_PORT 11443', '--ws-origins CIM_WS_ORIGINS ', 'mqttAcl - ',
      '--login-timeout-ms CIM_LOGIN_TIMEOUT_MS 10000', '--max-connections CIM_MAX_CONNECTIONS 100000', '--listen-backlog CIM_LISTEN_BACKLOG 4096',
      '--max-pending-frame-bytes CIM_MAX_PENDING_FRAME_BYTES 67108864', '--mqtt-max-packet-bytes CIM_MQTT_MAX_PACKET_BYTES 1048576',
      '--mqtt-max-queued-bytes CIM_MQTT_MAX_QUEUED_BYTES 1048576', '--mqtt-max-keepalive-seconds CIM_MQTT_MAX_KEEPALIVE_SECONDS 300',
      '--mqtt-max-client-id-bytes CIM_MQTT_MAX_CLIENT_ID_BYTES 256', '--retained-max-count CIM_RETAINED_MAX_COUNT 100000',
      '--retained-max-bytes CIM_RETAINED_MAX_BYTES 268435456', '--retained-max-message-bytes CIM_RETAINED_MAX_MESSAGE_BYTES 262144',
      '--inbox-max-bytes-per-user CIM_INBOX_MAX_BYTES_PER_USER 8388608', '--inbox-max-total-bytes CIM_INBOX_MAX_TOTAL_BYTES 1073741824',
      '--max-stored-bytes-per-request CIM_MAX_STORED_BYTES_PER_REQUEST 16777216', '--max-batch-items CIM_MAX_BATCH_ITEMS 1000',
      '--rate-limit-per-key CIM_RATE_LIMIT_PER_KEY 20000', '--rate-limit-per-address CIM_RATE_LIMIT_PER_ADDRESS 20000',
      '--registrations-per-address CIM_REGISTRATIONS_PER_ADDRESS 50',
    ])
    expect(defaults).toEqual(Object.fromEntries(settings.map((s) => [s.key, s.default])))
  })

  it.each(settings.map((s) => [s.key, s]))('%s is read from its variable and from a config file, and explicit values win', (key, s) => {
    const value = sample(s)
    if (s.env) expect(resolveConfig({}, { [s.env]: String(value) })[key]).toEqual(value)
    else expect(s.kind).toBe('json') // a structured setting lives in the config file only
    expect(resolveConfig({}, {}, readConfigFile(writeJson({ [key]: value })))[key]).toEqual(value)
    const other = s.kind === 'number' ? '1' : s.kind === 'boolean' ? String(s.default) : 'other'
    expect(resolveConfig({ [key]: value } as Partial<Config>, s.env ? { [s.env]: other } : {})[key]).toEqual(value)
  })

  it('gives each part only its slice', () => {
    expectTypeOf<BrokerSettings>().toHaveProperty('cimPort')
    expectTypeOf<BrokerSettings>().not.toHaveProperty('redisUrl')
    expectTypeOf<BrokerSettings>().not.toHaveProperty('strategy')
    expectTypeOf<RouteSettings>().toHaveProperty('strategy')
    expectTypeOf<RouteSettings>().not.toHaveProperty('cimPort')
    expectTypeOf<AdapterSettings>().toEqualTypeOf<Pick<Config, 'inboxMaxPerUser' | 'inboxMaxBytesPerUser' | 'inboxMaxTotalBytes' | 'redisUrl' | 'zookeeper' | 'zkRoot' | 'zkSessionTimeoutMs'>>()
    expectTypeOf<Config['strategy']>().toEqualTypeOf<'consistent-hash' | 'round-robin' | 'random' | 'least-connections'>()
    for (const s of settings) expect(s.parts.length, s.key).toBeGreaterThan(0)
  })
})

describe('config file', () => {
  it('refuses a value of the wrong type or outside its choices, naming the key', () => {
    expect(() => readConfigFile(writeJson({ cimPort: '11212' }))).toThrow(/"cimPort" must be a number, got "11212"/)
    expect(() => readConfigFile(writeJson({ redisUrl: 6379 }))).toThrow(/"redisUrl" must be a string, got 6379/)
    expect(() => readConfigFile(writeJson({ cimPort: -1 }))).toThrow(/"cimPort": expected a non-negative number/)
    expect(() => readConfigFile(writeJson({ strategy: 'fastest' }))).toThrow(/"strategy": expected one of consistent-hash/)
    expect(() => readConfigFile(writeJson([1]))).toThrow(/expected a JSON object/)
  })

  it('sits between defaults and the environment, and refuses unknown keys', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const { readConfigFile } = await import('./config.ts')
    const dir = mkdtempSync(join(tmpdir(), 'cim-config-'))
    const good = join(dir, 'good.json')
    writeFileSync(good, JSON.stringify({ cimPort: 12001, redisUrl: 'redis://10.0.0.9:6379' }))
    const file = readConfigFile(good)
    expect(resolveConfig({}, {}, file).cimPort).toBe(12001)
    expect(resolveConfig({}, { CIM_CIM_PORT: '12002' }, file).cimPort).toBe(12002)
    expect(resolveConfig({}, {}, file).redisUrl).toBe('redis://10.0.0.9:6379')
    const typo = join(dir, 'typo.json')
    writeFileSync(typo, JSON.stringify({ cimport: 1 }))
    expect(() => readConfigFile(typo)).toThrow(/unknown setting "cimport"/)
    const broken = join(dir, 'broken.json')
    writeFileSync(broken, '{ nope')
    expect(() => readConfigFile(broken)).toThrow(/config file .*broken.json/)
  })
})
