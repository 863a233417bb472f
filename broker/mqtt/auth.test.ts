import { describe, expect, it, vi } from 'vitest'
import pino from 'pino'
import type { AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import type { AuthDecision, AuthHooks } from '../auth.ts'
import { codedError } from '../../errors.ts'
import { MqttAcl } from '../../security/mqtt-acl.ts'
import { aclForward, aedesAuthHandlers } from './auth.ts'

const config = { devicePushTopic: 'devices/{deviceId}/push', broadcastTopic: 'devices/broadcast', mqttMaxClientIdBytes: 256, mqttMaxKeepaliveSeconds: 300 }
const acl = new MqttAcl({ ...config, uplinkPrefix: 'uplink/', mqttAcl: [] })

function hooks(over: Partial<AuthHooks> = {}): AuthHooks {
  const allow = async (): Promise<AuthDecision> => true
  return { authenticateUser: allow, authenticateDevice: allow, authorizePublish: allow, authorizeSubscribe: allow, ...over }
}

const fakeClient = (id: string) => ({ id, conn: { remoteAddress: '10.0.0.9' } }) as unknown as Client

function connectPacket(clientId: string, clean: boolean, protocolVersion: 3 | 4 = 4): ConnectPacket {
  return { cmd: 'connect', clientId, clean, protocolVersion, protocolId: 'MQTT', keepalive: 10 } as ConnectPacket
}

/** Runs preConnect then authenticate as aedes does; resolves the CONNACK code (0 = accepted). */
async function connackFor(h: AuthHooks, packet: ConnectPacket, username?: string, password?: Buffer): Promise<number> {
  const handlers = aedesAuthHandlers({ auth: h, acl, config, logger: pino({ level: 'silent' }) })
  const client = fakeClient(packet.clientId || 'aedes_generated')
  await new Promise<void>((resolve) => handlers.preConnect(client, packet, () => resolve()))
  return new Promise((resolve) => {
    handlers.authenticate(client, username, password, (err: AuthenticateError | null, ok: boolean | null) => {
      resolve(err ? err.returnCode : ok ? 0 : -1)
    })
  })
}

describe('aedes authenticate / preConnect', () => {
  it('accepts what the hook accepts, passing client id, credentials and address', async () => {
    const authenticateDevice = vi.fn(async () => true as const)
    expect(await connackFor(hooks({ authenticateDevice }), connectPacket('d1', true), 'u', Buffer.from('p'))).toBe(0)
    expect(authenticateDevice).toHaveBeenCalledWith({ clientId: 'd1', username: 'u', password: Buffer.from('p'), remoteAddress: '10.0.0.9' })
  })

  it('refuses with 4 when credentials were sent, 5 when none, 3 when the hook throws', async () => {
    const refuse = hooks({ authenticateDevice: async () => 'no' })
    expect(await connackFor(refuse, connectPacket('d', true), 'u', Buffer.from('p'))).toBe(4)
    expect(await connackFor(refuse, connectPacket('d', true))).toBe(5)
    const broken = hooks({ authenticateDevice: async () => { throw new Error('store down') } })
    expect(await connackFor(broken, connectPacket('d', true))).toBe(3)
  })

  it('maps coded refusals: a token of another client id → 5, an expired or revoked token → 4', async () => {
    const refuse = (name: 'Forbidden' | 'TokenExpired' | 'TokenRevoked' | 'Unauthorized') => hooks({ authenticateDevice: async () => codedError(name, 'x') })
    expect(await connackFor(refuse('Forbidden'), connectPacket('d', true), 'u', Buffer.from('p'))).toBe(5)
    expect(await connackFor(refuse('TokenExpired'), connectPacket('d', true), undefined, Buffer.from('p'))).toBe(4)
    expect(await connackFor(refuse('TokenRevoked'), connectPacket('d', true), undefined, Buffer.from('p'))).toBe(4)
    expect(await connackFor(refuse('Unauthorized'), connectPacket('d', true))).toBe(5)
  })

  it('gives the client the role its token grants: a monitor may read $SYS and others’ uplinks', async () => {
    const handlers = aedesAuthHandlers({ auth: hooks({ authenticateDevice: async () => ({ role: 'monitor' as const }) }), acl, config, logger: pino({ level: 'silent' }) })
    const client = fakeClient('mon')
    const ok = await new Promise((resolve) => handlers.authenticate(client, undefined, Buffer.from('t'), (_err, ok) => resolve(ok)))
    expect(ok).toBe(true)
    const forward = aclForward(acl, (_c, p) => p)
    const packet = (topic: string) => ({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, dup: false, retain: false }) as unknown as Parameters<typeof forward>[1]
    expect(forward(client, packet('uplink/d2/t'))).toBeTruthy()
    expect(forward(client, packet('$SYS/b/x'))).toBeTruthy()
    expect(forward(fakeClient('d1'), packet('uplink/d2/t'))).toBeNull()
    expect(forward(fakeClient('d1'), packet('uplink/d1/t'))).toBeTruthy()
  })

  it('rejects an empty id with clean session off, an empty 3.1 id, and wildcard ids with 2', async () => {
    const authenticateDevice = vi.fn(async () => true as const)
    const h = hooks({ authenticateDevice })
    expect(await connackFor(h, connectPacket('', false))).toBe(2)
    expect(await connackFor(h, connectPacket('', true, 3))).toBe(2)
    expect(await connackFor(h, connectPacket('dev/+', true))).toBe(2)
    expect(authenticateDevice).not.toHaveBeenCalled()
    expect(await connackFor(h, connectPacket('', true))).toBe(0)
  })
})

describe('aedes authorizePublish / authorizeSubscribe', () => {
  const publish = (h: AuthHooks, client: Client | null, topic: string) =>
    new Promise<Error | null | undefined>((resolve) => {
      const handlers = aedesAuthHandlers({ auth: h, acl, config, logger: pino({ level: 'silent' }) })
      handlers.authorizePublish(client, { cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, dup: false, retain: false } as PublishPacket, resolve)
    })
  const subscribe = (h: AuthHooks, topic: string) =>
    new Promise<{ err: Error | null; sub: Subscription | null | undefined }>((resolve) => {
      const handlers = aedesAuthHandlers({ auth: h, acl, config, logger: pino({ level: 'silent' }) })
      handlers.authorizeSubscribe(fakeClient('d1'), { topic, qos: 1 }, (err, sub) => resolve({ err, sub }))
    })

  it('turns a refused publish into an error (aedes then closes the client) carrying the reason', async () => {
    const h = hooks({ authorizePublish: async (_id, topic) => (topic === 'bad' ? 'reserved' : true) })
    expect(await publish(h, fakeClient('d1'), 'ok')).toBeNull()
    expect((await publish(h, fakeClient('d1'), 'bad'))?.message).toBe('reserved')
  })

  it('keeps aedes’ $SYS/ rule and lets the server publish an orphaned will (client null)', async () => {
    const authorizePublish = vi.fn(async () => 'never' as AuthDecision)
    expect(await publish(hooks(), fakeClient('d1'), '$SYS/x')).toBeInstanceOf(Error)
    expect(await publish(hooks({ authorizePublish }), null, 'status/d1')).toBeNull()
    expect(authorizePublish).not.toHaveBeenCalled()
  })

  it('negates a refused subscription (SUBACK 0x80) instead of failing the connection', async () => {
    const h = hooks({ authorizeSubscribe: async () => 'not yours' })
    expect(await subscribe(h, 'devices/x/push')).toEqual({ err: null, sub: null })
    const broken = hooks({ authorizeSubscribe: async () => { throw new Error('down') } })
    expect(await subscribe(broken, 't')).toEqual({ err: null, sub: null })
  })

  it('applies the topic rules before the hooks: another device’s uplink and push topic are refused', async () => {
    const authorizePublish = vi.fn(async () => true as const)
    const h = hooks({ authorizePublish })
    expect((await publish(h, fakeClient('d1'), 'uplink/d2/t'))?.message).toMatch(/another device/)
    expect((await publish(h, fakeClient('d1'), 'devices/d2/push'))?.message).toMatch(/reserved/)
    expect(authorizePublish).not.toHaveBeenCalled()
    expect(await publish(h, fakeClient('d1'), 'uplink/d1/t')).toBeNull()
    expect(await subscribe(h, 'devices/d2/push')).toEqual({ err: null, sub: null })
    expect(await subscribe(h, '$SYS/#')).toEqual({ err: null, sub: null })
    expect((await subscribe(h, '#')).sub).toEqual({ topic: '#', qos: 1 })
  })

  it('always allows the device its own push topic and broadcast, without asking the hook', async () => {
    // A resumed persistent session re-authorises its stored subscriptions, server-made ones included.
    const authorizeSubscribe = vi.fn(async () => 'refused' as AuthDecision)
    const h = hooks({ authorizeSubscribe })
    expect((await subscribe(h, 'devices/d1/push')).sub).toEqual({ topic: 'devices/d1/push', qos: 1 })
    expect((await subscribe(h, 'devices/broadcast')).sub).toEqual({ topic: 'devices/broadcast', qos: 1 })
    expect(authorizeSubscribe).not.toHaveBeenCalled()
  })
})
