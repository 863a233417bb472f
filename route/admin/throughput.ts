/**
 * The console's throughput chart: pushes/s and deliveries/s of this route over the last minutes,
 * from the counter /metrics serves (`cim_route_push_results_total`: every per-target answer is a
 * push, `delivered` ones are deliveries). Sampled every SAMPLE_MS into a ring, so a page opened
 * now shows the last WINDOW_MS at once; one read of the counter per sample, nothing on the push path.
 */
import type { RouteMetrics } from '../plugins/metrics.ts'

export const SAMPLE_MS = 2_000
const WINDOW_MS = 5 * 60_000
const SLOTS = WINDOW_MS / SAMPLE_MS
const PUSH_RESULTS = 'cim_route_push_results_total'

export interface ThroughputSample {
  /** End of the interval, ms since the epoch. */
  ts: number
  pushesPerSecond: number
  deliveriesPerSecond: number
}

export class ThroughputSampler {
  private readonly ring: ThroughputSample[] = []
  private last: { ts: number; pushes: number; deliveries: number } | undefined
  private readonly timer: NodeJS.Timeout

  constructor(private readonly metrics: RouteMetrics) {
    void this.sample()
    this.timer = setInterval(() => { void this.sample() }, SAMPLE_MS)
    this.timer.unref()
  }

  private async totals(): Promise<{ pushes: number; deliveries: number }> {
    const metric = this.metrics.registry.getSingleMetric(PUSH_RESULTS)
    let pushes = 0
    let deliveries = 0
    if (!metric) return { pushes, deliveries }
    for (const v of (await metric.get()).values) {
      pushes += v.value
      if (v.labels.status === 'delivered') deliveries += v.value
    }
    return { pushes, deliveries }
  }

  private async sample(): Promise<void> {
    const ts = Date.now()
    const now = await this.totals().catch(() => undefined)
    if (!now) return
    if (this.last) {
      const seconds = (ts - this.last.ts) / 1000
      this.ring.push({
        ts,
        pushesPerSecond: Math.max(0, now.pushes - this.last.pushes) / seconds,
        deliveriesPerSecond: Math.max(0, now.deliveries - this.last.deliveries) / seconds,
      })
      if (this.ring.length > SLOTS) this.ring.shift()
    }
    this.last = { ts, ...now }
  }

  snapshot(): { sampleMs: number; samples: ThroughputSample[] } {
    return { sampleMs: SAMPLE_MS, samples: [...this.ring] }
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
