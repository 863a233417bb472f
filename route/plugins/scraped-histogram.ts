/**
 * A prom-client Histogram whose observations are plain array increments, turned into the
 * Prometheus series only when /metrics is scraped. prom-client's own `observe` validates and
 * hashes the label set on every call (about a microsecond, several per push); here a caller
 * looks its child up once (by label values) and `observe` is a bucket search and three adds.
 * The registry sees an ordinary Histogram: name, help, type and exposition are prom-client's.
 */
import { Histogram, type Aggregator, type MetricType, type HistogramConfiguration, type LabelValues, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client'

/** One label set's buckets: what the hot path holds and calls. */
export class HistogramChild {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is (last bound, +Inf). */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(private readonly bounds: readonly number[], readonly labels: Record<string, string>) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe(value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    this.counts[i]++
    this.sum += value
    this.count++
  }
}

export class ScrapedHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: readonly number[]
  private readonly labelNames: readonly T[]
  private readonly children = new Map<string, HistogramChild>()

  constructor(config: HistogramConfiguration<T> & { buckets: number[]; labelNames: readonly T[] }) {
    super(config)
    this.bounds = [...config.buckets].sort((a, b) => a - b)
    this.labelNames = config.labelNames
  }

  /** The child of these label values (in labelNames order), made on first use: keep it, call observe. */
  child(...values: string[]): HistogramChild {
    const key = values.join('\u0000')
    let c = this.children.get(key)
    if (!c) {
      const labels: Record<string, string> = {}
      this.labelNames.forEach((name, i) => { labels[name] = values[i] })
      this.children.set(key, (c = new HistogramChild(this.bounds, labels)))
    }
    return c
  }

  /** The series as prom-client's Histogram reports them: cumulative `le` buckets, `_sum`, `_count`. */
  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const base = { name: this.hist.name, help: this.hist.help, type: this.hist.type, aggregator: this.hist.aggregator }
    const values: Array<MetricValueWithName<T>> = []
    for (const c of this.children.values()) {
      const labels = c.labels as LabelValues<T>
      let cumulative = 0
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += c.counts[i]
        const le = i < this.bounds.length ? this.bounds[i] : '+Inf'
        values.push({ metricName: `${base.name}_bucket`, labels: { le, ...labels } as LabelValues<T>, value: cumulative })
      }
      values.push({ metricName: `${base.name}_sum`, labels, value: c.sum })
      values.push({ metricName: `${base.name}_count`, labels, value: c.count })
    }
    return { ...base, values, collect: () => {} }
  }

  /**
   * prom-client's Registry formats /metrics from this method when a metric has one (its Histogram
   * does, reading its own label hash): the same series as get().
   */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    return this.get()
  }

  /** The configuration fields prom-client keeps on the instance (not in its typings). */
  private get hist(): { name: string; help: string; type: MetricType; aggregator: Aggregator } {
    return this as unknown as { name: string; help: string; type: MetricType; aggregator: Aggregator }
  }
}
