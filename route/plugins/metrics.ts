/**
 * The route's Prometheus metrics, served at GET /metrics (hidden from the OpenAPI document):
 * - `cim_route_http_request_duration_seconds{method,route,status}`: every request, by route
 *   template (`/v1/push/users/:userId`, never the raw URL), its `_count` is the request count;
 * - `cim_route_push_results_total{target,status}`: per-target push answers (delivered, queued,
 *   offline, rejected) for users and devices;
 * - `cim_route_bus_round_trip_seconds{request}`: how long brokers take to answer bus requests
 *   (a broker that does not answer counts with the delivery timeout);
 * - the inbox (`cim_inbox_*`), the node's event sinks (`cim_events_*`) and prom-client's default
 *   process metrics (`process_*`, `nodejs_*`): ../../metrics.ts, shared with the broker.
 * README "Operations" lists them all.
 * One Registry per app (not prom-client's global one), so several apps in one process never
 * collide. On the push path no prom-client call: histogram children (scraped-histogram.ts) and plain
 * counts, turned into series when /metrics is scraped.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Counter, Registry } from 'prom-client'
import type { RequestKind } from '../../broker/api/index.ts'
import type { BrokerClient } from '../../broker/api/client.ts'
import { ScrapedHistogram, type HistogramChild } from './scraped-histogram.ts'
import type { Inbox } from '../../adapters/inbox/index.ts'
import type { Events } from '../../events/index.ts'
import { registerEventMetrics, registerInboxMetrics, registerProcessMetrics } from '../../metrics.ts'

export type PushStatus = 'delivered' | 'queued' | 'offline' | 'rejected' | 'unknown'
type Target = 'user' | 'device'

const STATUSES: readonly PushStatus[] = ['delivered', 'queued', 'offline', 'rejected', 'unknown']

/** Seconds; pushes answer in milliseconds, timeouts take seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** What the route's /metrics reads besides its own counts; each part is optional. */
export interface RouteMetricsSources {
  inbox?: Inbox
  /** The node's events: its sinks' queue depth, sent, retries, dead letters, dropped. */
  events?: Events
  /** prom-client's default process metrics. Default true. */
  process?: boolean
}

export class RouteMetrics {
  readonly registry = new Registry()
  private readonly requests = new ScrapedHistogram({
    name: 'cim_route_http_request_duration_seconds',
    help: 'Route HTTP requests by method, route template and status code, with their latency',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })
  private readonly busRoundTrip = new ScrapedHistogram({
    name: 'cim_route_bus_round_trip_seconds',
    help: 'Time for brokers to answer a bus request, by request kind (unanswered requests count with the delivery timeout)',
    labelNames: ['request'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })
  /** Per target and status: plain counts on the push path, read into the counter at scrape time. */
  private readonly results: Record<Target, Record<PushStatus, number>> = { user: zeroes(), device: zeroes() }
  /** route template → method → status → histogram child: map lookups per request, no string building. */
  private readonly requestChildren = new Map<string, Map<string, Map<number, HistogramChild>>>()

  constructor(sources: RouteMetricsSources = {}) {
    if (sources.process ?? true) registerProcessMetrics(this.registry)
    if (sources.inbox) registerInboxMetrics(this.registry, sources.inbox)
    if (sources.events) registerEventMetrics(this.registry, sources.events)
    const results = this.results
    new Counter({
      name: 'cim_route_push_results_total',
      help: 'Push answers per target: user or device, and its status',
      labelNames: ['target', 'status'] as const,
      registers: [this.registry],
      collect() {
        this.reset()
        for (const target of ['user', 'device'] as const) {
          for (const status of STATUSES) if (results[target][status] > 0) this.inc({ target, status }, results[target][status])
        }
      },
    })
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.requestChildren.get(route)
    if (!byMethod) this.requestChildren.set(route, (byMethod = new Map()))
    let byStatus = byMethod.get(method)
    if (!byStatus) byMethod.set(method, (byStatus = new Map()))
    let child = byStatus.get(status)
    if (!child) byStatus.set(status, (child = this.requests.child(method, route, String(status))))
    child.observe(seconds)
  }

  /** Counts each user's answer; returns `results` so a caller can count where it returns. */
  countUserResults<T extends { status: PushStatus }>(results: T[]): T[] {
    const counts = this.results.user
    for (const r of results) counts[r.status]++
    return results
  }

  /** Counts a device's answer; returns it. */
  countDeviceResult<T extends { status: PushStatus }>(result: T): T {
    this.results.device[result.status]++
    return result
  }

  /** Times every bus request `client` makes (brokers in this process answer in a call: not timed). */
  timeBusRequests(client: BrokerClient): void {
    const children = new Map<RequestKind, HistogramChild>()
    client.onRoundTrip = (kind, ms) => {
      let child = children.get(kind)
      if (!child) children.set(kind, (child = this.busRoundTrip.child(kind)))
      child.observe(ms / 1000)
    }
  }
}

function zeroes(): Record<PushStatus, number> {
  return { delivered: 0, queued: 0, offline: 0, rejected: 0, unknown: 0 }
}

export interface MetricsPluginOptions {
  metrics: RouteMetrics
}

/** Registered after the brokers plugin (it times app.brokers) and before the routes. */
async function metricsPlugin(app: FastifyInstance, { metrics }: MetricsPluginOptions): Promise<void> {
  if (app.hasDecorator('brokers')) metrics.timeBusRequests(app.brokers)
  // Callback style: no promise per request.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
  app.get('/metrics', { schema: { hide: true }, config: { scope: 'read' } }, async (_request, reply) => {
    void reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}
// Not encapsulated (fastify-plugin style), so the hook sees every route.
Object.assign(metricsPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cim-metrics' })

export default metricsPlugin
