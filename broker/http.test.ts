import { afterEach, describe, expect, it } from 'vitest'
import { BrokerHttp, type BrokerHttpSource } from './http.ts'

let http: BrokerHttp | undefined
afterEach(async () => { await http?.close() })

function source(draining = false): BrokerHttpSource {
  return {
    id: () => 'b1',
    draining: () => draining,
    cimConnections: () => 3,
    cimUsers: () => 2,
    mqttConnections: () => 4,
    mqttSubscriptions: () => 8,
    stats: { framesIn: 10, logins: 2, loginsRefused: 1, deliveries: 99, broadcasts: 5, redeliveries: 0, closes: new Map([['CIM_READ_TIMEOUT', 2]]) },
    mqttStats: { connects: 6, disconnects: 2, messagesIn: [7, 3, 0], messagesOut: [40, 12, 1], subscribes: 9, unsubscribes: 1 },
  }
}

describe('broker HTTP', () => {
  it('serves health and Prometheus metrics from its own registry', async () => {
    http = new BrokerHttp(source())
    const port = await http.listen(0, '127.0.0.1')
    const health = await fetch(`http://127.0.0.1:${port}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok', brokerId: 'b1', connections: 7 })
    const res = await fetch(`http://127.0.0.1:${port}/metrics`)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(text).toMatch(/^cim_deliveries_total 99$/m)
    expect(text).toMatch(/^mqtt_connections 4$/m)
    expect(text).toMatch(/^cim_disconnects_total\{code="CIM_READ_TIMEOUT"\} 2$/m)
    // MQTT: connections, messages in and out by QoS, subscriptions.
    expect(text).toMatch(/^mqtt_connects_total 6$/m)
    expect(text).toMatch(/^mqtt_disconnects_total 2$/m)
    expect(text).toMatch(/^mqtt_subscriptions 8$/m)
    expect(text).toMatch(/^mqtt_subscribes_total 9$/m)
    expect(text).toMatch(/^mqtt_unsubscribes_total 1$/m)
    expect(text).toMatch(/^mqtt_messages_received_total\{qos="1"\} 3$/m)
    expect(text).toMatch(/^mqtt_messages_sent_total\{qos="0"\} 40$/m)
    expect(text).toMatch(/^mqtt_messages_sent_total\{qos="2"\} 1$/m)
    // Two brokers in one process do not collide: each has its own registry.
    const other = new BrokerHttp(source())
    expect(other.registry).not.toBe(http.registry)
    await other.close()
  })

  it('answers 503 while draining', async () => {
    http = new BrokerHttp(source(true))
    const port = await http.listen(0, '127.0.0.1')
    const res = await fetch(`http://127.0.0.1:${port}/health`)
    expect(res.status).toBe(503)
    expect((await res.json()).status).toBe('draining')
  })
})
