/**
 * The route's Prometheus metrics, served at GET /metrics (hidden from the OpenAPI document):
 * - `cim_route_http_request_duration_seconds{method,route,status}`: every request, by route
 *   template (`/v1/push/users/:userId`, never the raw URL), its `_count` is the request count;
 * - `cim_route_push_results_total{target,status}`: per-target push answers (delivered, queued,
 *   offline, rejected) for users and devices;
 * - `cim_route_bus_round_trip_seconds{request}`: how long brokers take to answer bus requests
 *   (a broker that does not answer counts with the delivery timeout).
 * One Registry per app (not prom-client's global one), so several apps in one process never
 * collide. On the push path: label children looked up once and reused, an increment, an observe.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Counter, Histogram, Registry } from 'prom-client'
import type { RequestKind } from '../../broker/api/index.ts'

export type PushStatus = 'delivered' | 'queued' | 'offline' | 'rejected' | 'unknown'
type Target = 'user' | 'device'
type Child = { inc(): void }
type Timer = { observe(seconds: number): void }

const STATUSES: readonly PushStatus[] = ['delivered', 'queued', 'offline', 'rejected', 'unknown']
/** Every bus request kind (the client has one method per kind); `satisfies` keeps the list complete. */
const BUS_REQUESTS = { push: true, broadcast: true, kick: true, publish: true, replay: true, disconnectDevice: true } satisfies Record<RequestKind, true>

/** Seconds; pushes answer in milliseconds, timeouts take seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class RouteMetrics {
  readonly registry = new Registry()
  private readonly requests = new Histogram({
    name: 'cim_route_http_request_duration_seconds',
    help: 'Route HTTP requests by method, route template and status code, with their latency',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })
  private readonly pushResults = new Counter({
    name: 'cim_route_push_results_total',
    help: 'Push answers per target: user or device, and its status',
    labelNames: ['target', 'status'] as const,
    registers: [this.registry],
  })
  private readonly busRoundTrip = new Histogram({
    name: 'cim_route_bus_round_trip_seconds',
    help: 'Time for brokers to answer a bus request, by request kind (unanswered requests count with the delivery timeout)',
    labelNames: ['request'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })
  /** route template → method → status → histogram child: map lookups per request, no string building. */
  private readonly requestChildren = new Map<string, Map<string, Map<number, Timer>>>()
  private readonly results: Record<Target, Record<PushStatus, Child>>

  constructor() {
    const children = (target: Target) =>
      Object.fromEntries(STATUSES.map((status) => [status, this.pushResults.labels(target, status)])) as Record<PushStatus, Child>
    this.results = { user: children('user'), device: children('device') }
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.requestChildren.get(route)
    if (!byMethod) this.requestChildren.set(route, (byMethod = new Map()))
    let byStatus = byMethod.get(method)
    if (!byStatus) byMethod.set(method, (byStatus = new Map()))
    let child = byStatus.get(status)
    if (!child) byStatus.set(status, (child = this.requests.labels(method, route, String(status))))
    child.observe(seconds)
  }

  /** Counts each user's answer; returns `results` so a caller can count where it returns. */
  countUserResults<T extends { status: PushStatus }>(results: T[]): T[] {
    for (const r of results) this.results.user[r.status].inc()
    return results
  }

  /** Counts a device's answer; returns it. */
  countDeviceResult<T extends { status: PushStatus }>(result: T): T {
    this.results.device[result.status].inc()
    return result
  }

  /**
   * Times every bus request `client` makes, by wrapping its per-kind methods on the instance (one
   * async frame per bus request, not per recipient).
   */
  timeBusRequests(client: object): void {
    const methods = client as Record<string, (a: unknown, b: unknown) => Promise<unknown>>
    for (const kind of Object.keys(BUS_REQUESTS)) {
      const method = methods[kind]
      if (typeof method !== 'function') continue
      const child = this.busRoundTrip.labels(kind)
      methods[kind] = async function timed(this: unknown, a: unknown, b: unknown) {
        const start = performance.now()
        try {
          return await method.call(this, a, b)
        } finally {
          child.observe((performance.now() - start) / 1000)
        }
      }
    }
  }
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
