/**
 * Metrics both HTTP surfaces serve, the route's /metrics (route/plugins/metrics.ts) and the
 * broker's (broker/http.ts): the process itself, the node's event sinks and the inbox. Every value
 * is read when /metrics is scraped, from plain fields the hot paths increment (README "Operations").
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client'
import type { Events, EventSinkStats } from './events/index.ts'
import type { Inbox } from './adapters/inbox/index.ts'

/**
 * prom-client's default process metrics (CPU, memory, heap, event-loop lag, GC, handles), collected
 * ONCE per process and registered into each registry that asks: calling collectDefaultMetrics per
 * registry would start one event-loop-delay monitor and one GC observer per app, never stopped,
 * and a process may build many apps (tests, an all-in-one node serving two registries).
 */
let processMetrics: Metric[] | undefined

export function registerProcessMetrics(registry: Registry): void {
  if (!processMetrics) {
    const own = new Registry()
    collectDefaultMetrics({ register: own })
    // The registry's metric instances (typed as their plain shape in prom-client's declarations).
    processMetrics = own.getMetricsAsArray() as unknown as Metric[]
  }
  for (const m of processMetrics) registry.registerMetric(m)
}

type SinkCounter = Exclude<keyof EventSinkStats, 'queued'>

/**
 * The node's event sinks, labelled by sink (`webhook`, `stream`): what waits, what was sent, retried,
 * given up on, refused. Nothing when the node has no sink.
 */
export function registerEventMetrics(registry: Registry, events: Events): void {
  new Counter({
    name: 'cim_events_emitted_total',
    help: 'Events emitted on this node while a sink or listener was attached',
    registers: [registry],
    collect() { this.reset(); this.inc(events.emitted) },
  })
  new Gauge({
    name: 'cim_events_queue_depth',
    help: 'Events waiting to be delivered, by sink',
    labelNames: ['sink'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const { sink, stats } of events.sinkStats()) this.set({ sink }, stats.queued)
    },
  })
  const counter = (name: string, help: string, field: SinkCounter) => new Counter({
    name, help, labelNames: ['sink'] as const, registers: [registry],
    collect() {
      this.reset()
      for (const { sink, stats } of events.sinkStats()) this.inc({ sink }, stats[field])
    },
  })
  counter('cim_events_sent_total', 'Events the backend accepted, by sink', 'sent')
  counter('cim_events_retries_total', 'Failed delivery attempts that were retried, by sink', 'retries')
  counter('cim_events_dead_letters_total', 'Events given up on after the last attempt, by sink', 'deadLetters')
  counter('cim_events_dropped_total', 'Events refused because the sink queue was full, by sink', 'dropped')
}

/** How long a scrape waits for the inbox's counts (a Redis that does not answer must not hang /metrics). */
const INBOX_READ_TIMEOUT_MS = 1_000

/**
 * The inbox (stored qos 1 pushes and offline messages): its stats() at scrape time. The memory inbox
 * counts in fields (and sweeps expired entries); the Redis one runs one bounded script (ZCARD and
 * two GETs after sweeping a batch), so a scrape is one round trip. With Redis the numbers are the
 * cluster's, the same on every route: aggregate with max(), not sum(). When the inbox does not
 * answer in time, the gauges keep the last values read.
 */
export function registerInboxMetrics(registry: Registry, inbox: Inbox): void {
  let last = { stored: 0, expired: 0, bytes: 0 }
  let reading: Promise<void> | undefined
  // The three metrics' collect() run in one scrape: one stats() call serves them.
  const read = () => (reading ??= withTimeout(inbox.stats(), INBOX_READ_TIMEOUT_MS)
    .then((s) => { if (s) last = s }, () => {})
    .finally(() => { reading = undefined }))
  new Gauge({
    name: 'cim_inbox_stored_messages',
    help: 'Messages stored in the inbox, waiting for an ack (cluster-wide with Redis)',
    registers: [registry],
    async collect() { await read(); this.set(last.stored) },
  })
  new Gauge({
    name: 'cim_inbox_stored_bytes',
    help: 'Bytes the stored messages count against the inbox caps (cluster-wide with Redis)',
    registers: [registry],
    async collect() { await read(); this.set(last.bytes) },
  })
  new Counter({
    name: 'cim_inbox_expired_total',
    help: 'Stored messages dropped because their TTL passed before an ack (cluster-wide with Redis)',
    registers: [registry],
    async collect() { await read(); this.reset(); this.inc(last.expired) },
  })
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}
