import { afterEach, describe, expect, it } from 'vitest'
import { BrokerHttp, type BrokerHttpSource } from './http.ts'
import { Events, type EventSink } from '../events/index.ts'

let http: BrokerHttp | undefined
afterEach(async () => { await http?.close() })

function source(draining = false, extra: Partial<BrokerHttpSource> = {}): BrokerHttpSource {
  return {
    id: () => 'b1',
    draining: () => draining,
    cimConnections: () => 3,
    cimUsers: () => 2,
    mqttConnections: () => 4,
    mqttSubscriptions: () => 8,
    stats: {
      framesIn: 10, logins: 2, loginsRefused: 1, deliveries: 99, broadcasts: 5, redeliveries: 0,
      closes: new Map([['CIM_READ_TIMEOUT', 2], ['CIM_SLOW_CONSUMER', 5]]),
    },
    mqttStats: { connects: 6, disconnects: 2, messagesIn: [7, 3, 0], messagesOut: [40, 12, 1], subscribes: 9, unsubscribes: 1, slowConsumers: 3 },
    ...extra,
  }
}

/** A sink standing in for the webhook: only its counters matter here. */
const countingSink: EventSink = {
  name: 'webhook',
  publish() {},
  async close() {},
  stats: () => ({ queued: 12, sent: 340, retries: 4, deadLetters: 1, dropped: 2 }),
}

describe('broker HTTP', () => {
  it('serves health and Prometheus metrics from its own registry', async () => {
    const events = new Events('b1')
    events.addSink(countingSink)
    events.emit({ type: 'device.connected', clientId: 'd1' })
    http = new BrokerHttp(source(false, { retained: async () => ({ count: 17, bytes: 2048 }), events }))
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
    // Slow consumers of both protocols, retained messages, the event sinks, the process.
    expect(text).toMatch(/^cim_slow_consumer_disconnects_total\{protocol="cim"\} 5$/m)
    expect(text).toMatch(/^cim_slow_consumer_disconnects_total\{protocol="mqtt"\} 3$/m)
    expect(text).toMatch(/^mqtt_retained_messages 17$/m)
    expect(text).toMatch(/^mqtt_retained_bytes 2048$/m)
    expect(text).toMatch(/^cim_events_emitted_total 1$/m)
    expect(text).toMatch(/^cim_events_queue_depth\{sink="webhook"\} 12$/m)
    expect(text).toMatch(/^cim_events_sent_total\{sink="webhook"\} 340$/m)
    expect(text).toMatch(/^cim_events_retries_total\{sink="webhook"\} 4$/m)
    expect(text).toMatch(/^cim_events_dead_letters_total\{sink="webhook"\} 1$/m)
    expect(text).toMatch(/^cim_events_dropped_total\{sink="webhook"\} 2$/m)
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m)
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m)
    // Two brokers in one process do not collide: each has its own registry.
    const other = new BrokerHttp(source())
    expect(other.registry).not.toBe(http.registry)
    expect(await other.registry.metrics()).toMatch(/^process_resident_memory_bytes \d+/m)
    await other.close()
  })

  it('while draining: /health stays 200 (liveness), /ready answers 503 naming draining', async () => {
    http = new BrokerHttp(source(true))
    const port = await http.listen(0, '127.0.0.1')
    const health = await fetch(`http://127.0.0.1:${port}/health`)
    expect(health.status).toBe(200)
    expect((await health.json()).status).toBe('draining')
    const ready = await fetch(`http://127.0.0.1:${port}/ready`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toEqual({
      ready: false, notReady: ['draining'], brokerId: 'b1',
      checks: { draining: { ok: false, error: 'the node is shutting down' } },
    })
  })

  it('/ready names each configured backend that does not answer', async () => {
    http = new BrokerHttp(source(false, {
      probes: [
        { name: 'redis', check: async () => 'connection reconnecting' },
        { name: 'zookeeper', check: async () => undefined },
      ],
    }))
    const port = await http.listen(0, '127.0.0.1')
    const ready = await fetch(`http://127.0.0.1:${port}/ready`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({
      ready: false, notReady: ['redis'],
      checks: { redis: { ok: false, error: 'connection reconnecting' }, zookeeper: { ok: true }, draining: { ok: true } },
    })
  })
})
