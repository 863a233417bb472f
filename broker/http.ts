/**
 * The broker's HTTP port (upstream's `httpPort`), README "Operations":
 * - GET /health: liveness, 200 while the process answers (`status: 'draining'` while it shuts down,
 *   still 200: an orchestrator must not restart a draining broker);
 * - GET /ready: readiness, 503 while draining or while a configured Redis / ZooKeeper does not
 *   answer, the body naming what is not ready (adapters/health.ts);
 * - GET /metrics in the Prometheus text format.
 * Each broker has its own prom-client Registry (not the global one), so several brokers in one
 * process never collide. Metrics are read from plain counters at scrape time: nothing on the
 * delivery path touches the metrics library.
 */
import { createServer, type Server } from 'node:http'
import { Counter, Gauge, Registry } from 'prom-client'
import type { CimStats } from './cim/server.ts'
import type { MqttStats } from './types.ts'
import { catalogue, codedError } from '../errors.ts'
import { catalogueClientErrors, errorJson } from '../http-errors.ts'
import { readiness, type BackendProbe } from '../adapters/health.ts'
import type { Events } from '../events/index.ts'
import { registerEventMetrics, registerProcessMetrics } from '../metrics.ts'

export interface BrokerHttpSource {
  id: () => string
  draining: () => boolean
  cimConnections: () => number
  cimUsers: () => number
  mqttConnections: () => number
  mqttSubscriptions: () => number
  stats: CimStats
  mqttStats: MqttStats
  /** Retained MQTT topics and bytes (the backend's tally). Default: not reported. */
  retained?: () => Promise<{ count: number; bytes: number }>
  /** The broker's events: its sinks' counters. Default: not reported. */
  events?: Events
  /** The configured backends /ready checks (adapters.probes). Default: none. */
  probes?: readonly BackendProbe[]
  /** prom-client's default process metrics. Default true. */
  processMetrics?: boolean
}

export function createBrokerMetrics(src: BrokerHttpSource): Registry {
  const register = new Registry()
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [register], collect() { this.set(read()) } })
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({ name, help, registers: [register], collect() { this.reset(); this.inc(read()) } })
  const byQos = (name: string, help: string, counts: readonly number[]) =>
    new Counter({
      name, help, labelNames: ['qos'], registers: [register],
      collect() {
        this.reset()
        for (let qos = 0; qos < counts.length; qos++) this.inc({ qos: String(qos) }, counts[qos])
      },
    })

  gauge('cim_connections', 'Open CIM TCP connections', src.cimConnections)
  gauge('cim_users_online', 'Users logged in over CIM TCP on this broker', src.cimUsers)
  gauge('mqtt_connections', 'Connected MQTT clients on this broker', src.mqttConnections)
  gauge('broker_draining', '1 while the broker is shutting down', () => (src.draining() ? 1 : 0))
  counter('cim_frames_received_total', 'CIM frames received', () => src.stats.framesIn)
  counter('cim_logins_total', 'Successful CIM logins', () => src.stats.logins)
  counter('cim_logins_refused_total', 'Refused CIM logins', () => src.stats.loginsRefused)
  counter('cim_deliveries_total', 'Push, broadcast and replay frames written to CIM clients', () => src.stats.deliveries)
  counter('cim_broadcasts_total', 'Broadcast messages handled', () => src.stats.broadcasts)
  counter('cim_redeliveries_total', 'Stored messages written again after the ack timeout', () => src.stats.redeliveries)
  gauge('mqtt_subscriptions', 'Subscriptions held by the MQTT clients connected to this broker', src.mqttSubscriptions)
  counter('mqtt_connects_total', 'MQTT clients that completed CONNECT', () => src.mqttStats.connects)
  counter('mqtt_disconnects_total', 'MQTT clients that went away', () => src.mqttStats.disconnects)
  counter('mqtt_subscribes_total', 'MQTT subscriptions granted (server-side ones included)', () => src.mqttStats.subscribes)
  counter('mqtt_unsubscribes_total', 'MQTT subscriptions removed by UNSUBSCRIBE', () => src.mqttStats.unsubscribes)
  byQos('mqtt_messages_received_total', 'PUBLISH packets received from MQTT clients, by QoS', src.mqttStats.messagesIn)
  byQos('mqtt_messages_sent_total', 'PUBLISH packets sent to MQTT subscribers, by the QoS sent at', src.mqttStats.messagesOut)
  new Counter({
    name: 'cim_slow_consumer_disconnects_total',
    help: 'Connections dropped because the client did not read (CIM_SLOW_CONSUMER), by protocol',
    labelNames: ['protocol'],
    registers: [register],
    collect() {
      this.reset()
      this.inc({ protocol: 'cim' }, src.stats.closes.get(catalogue.SlowConsumer.code) ?? 0)
      this.inc({ protocol: 'mqtt' }, src.mqttStats.slowConsumers)
    },
  })
  if (src.retained) {
    const tally = src.retained
    let last = { count: 0, bytes: 0 }
    let reading: Promise<void> | undefined
    // Both gauges' collect() run in one scrape: one read serves them; a failed read keeps the last values.
    const read = () => (reading ??= tally().then((t) => { last = t }, () => {}).finally(() => { reading = undefined }))
    new Gauge({
      name: 'mqtt_retained_messages', help: 'Retained MQTT topics (cluster-wide with Redis)', registers: [register],
      async collect() { await read(); this.set(last.count) },
    })
    new Gauge({
      name: 'mqtt_retained_bytes', help: 'Payload bytes of the retained MQTT messages (cluster-wide with Redis)', registers: [register],
      async collect() { await read(); this.set(last.bytes) },
    })
  }
  if (src.events) registerEventMetrics(register, src.events)
  if (src.processMetrics ?? true) registerProcessMetrics(register)
  new Counter({
    name: 'cim_disconnects_total',
    help: 'CIM sessions ended, by catalogue code (CIM_CLIENT_CLOSED: the client hung up)',
    labelNames: ['code'],
    registers: [register],
    collect() {
      this.reset()
      for (const [code, n] of src.stats.closes) this.inc({ code }, n)
    },
  })
  return register
}

export class BrokerHttp {
  private readonly server: Server
  readonly registry: Registry

  constructor(private readonly src: BrokerHttpSource) {
    this.registry = createBrokerMetrics(src)
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        // Every error in the catalogue format, as the route answers them (http-errors.ts).
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' })
          .end(errorJson(codedError('MethodNotAllowed', req.method, path)))
      } else if (path === '/health') {
        // Liveness only: 200 while draining too (/ready says 503 then, so a load balancer stops
        // sending traffic before the sockets close).
        const body = JSON.stringify({
          status: this.src.draining() ? 'draining' : 'ok',
          brokerId: this.src.id(),
          connections: this.src.cimConnections() + this.src.mqttConnections(),
        })
        res.writeHead(200, { 'content-type': 'application/json' }).end(body)
      } else if (path === '/ready') {
        readiness(this.src.probes ?? [], this.src.draining()).then((answer) => {
          res.writeHead(answer.ready ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ ...answer, brokerId: this.src.id() }))
        })
      } else if (path === '/metrics') {
        this.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
        )
      } else {
        res.writeHead(404, { 'content-type': 'application/json' })
          .end(errorJson(codedError('NotFound', `GET ${path}`)))
      }
    })
    catalogueClientErrors(this.server)
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve((this.server.address() as { port: number }).port)
      })
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve()
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }
}
