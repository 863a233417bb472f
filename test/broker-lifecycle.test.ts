/**
 * Broker composition and lifecycle: registered with every actual port after listen, HTTP health and
 * metrics, bus publish through the MQTT node, and a shutdown that deregisters before it KICKs
 * proto=2 clients with CIM_DRAINING.
 */
import { describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { BaseCommand } from '../proto/codec.ts'
import { brokerFixture, type TestBroker } from './support/broker-harness.ts'
import { eventually } from './support/wait.ts'

const fx = brokerFixture()
let tb: TestBroker | undefined

describe('broker lifecycle', () => {
  it('registers in discovery with its actual ports and the default host:cimPort:httpPort id', async () => {
    tb = await fx.broker()
    const { cimPort, httpPort, mqttPort, wsPort } = tb.ports
    expect(tb.broker.id).toBe(`127.0.0.1:${cimPort}:${httpPort}`)
    expect(tb.adapters.discovery.brokers()).toEqual([expect.objectContaining({
      id: tb.broker.id, host: '127.0.0.1', cimPort, httpPort, mqttPort, wsPort, draining: false,
    })])
    for (const p of [cimPort, httpPort, mqttPort, wsPort]) expect(p).toBeGreaterThan(0)
  })

  it('answers /health and /metrics on its HTTP port', async () => {
    tb = await fx.broker()
    const { userId } = await tb.adapters.accounts.register('hal')
    const c = await fx.client(tb.ports.cimPort)
    c.login(userId, 'hal')
    await eventually(() => tb!.adapters.presence.users.get(String(userId)))
    const base = `http://127.0.0.1:${tb.ports.httpPort}`
    const health = await fetch(`${base}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok', brokerId: tb.broker.id, connections: 1 })
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toMatch(/^cim_connections 1$/m)
    expect(metrics).toMatch(/^cim_users_online 1$/m)
    expect(metrics).toMatch(/^cim_logins_total 1$/m)
    expect((await fetch(`${base}/nope`)).status).toBe(404)
  })

  it('publishes to MQTT devices on a bus publish request', async () => {
    tb = await fx.broker()
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${tb.ports.mqttPort}`, { clientId: 'dev-1', reconnectPeriod: 0 })
    try {
      await device.subscribeAsync('news/#')
      const got = new Promise<Buffer>((resolve) => device.on('message', (_t, payload) => resolve(payload)))
      const reply = await tb.route.publish(tb.broker.id, {
        topic: 'news/a', payload: Buffer.from([0, 1, 2, 255]).toString('base64'), qos: 0, retain: false,
      })
      expect(reply).toMatchObject({ type: 'publish-result', ok: true })
      expect([...(await got)]).toEqual([0, 1, 2, 255])
      expect(tb.broker.connections()).toBe(1)
    } finally {
      await device.endAsync(true)
    }
  })

  it('deregisters first, then KICKs proto=2 clients with CIM_DRAINING and closes everything', async () => {
    tb = await fx.broker()
    const { userId } = await tb.adapters.accounts.register('ivy')
    const { userId: up } = await tb.adapters.accounts.register('jon')
    const p2 = await fx.client(tb.ports.cimPort)
    const upstream = await fx.client(tb.ports.cimPort)
    p2.login(userId, 'ivy', { proto: '2' })
    upstream.login(up, 'jon')
    await p2.frame(BaseCommand.LOGIN_REPLY)
    await eventually(() => tb!.adapters.presence.users.get(String(up)))

    let registeredAtKick: number | undefined
    const kicked = p2.frame(BaseCommand.KICK).then((f) => {
      registeredAtKick = tb!.adapters.discovery.brokers().length
      return f
    })
    const closing = tb.broker.close()
    const kick = await kicked
    expect(kick.properties.code).toBe('CIM_DRAINING')
    expect(registeredAtKick).toBe(0)
    await closing
    await Promise.all([p2.waitClosed(), upstream.waitClosed()])
    expect(upstream.frames).toEqual([])
    expect(await tb.adapters.presence.users.count()).toBe(0)
    await tb.broker.close() // idempotent
    await expect(fetch(`http://127.0.0.1:${tb.ports.httpPort}/health`)).rejects.toThrow()
  })
})
