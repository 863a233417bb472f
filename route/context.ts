/** What every route plugin receives: its settings, the adapter set, the broker balancer and the metrics. */
import type { RouteSettings } from '../config.ts'
import type { Adapters } from '../adapters/index.ts'
import type { Balancer } from './balancer.ts'
import type { RouteMetrics } from './plugins/metrics.ts'
import type { Events } from '../events/index.ts'

export interface RouteContext {
  config: RouteSettings
  adapters: Adapters
  balancer: Balancer
  metrics: RouteMetrics
  /** user.message (compat chat) goes here (README "Events to your backend"). */
  events: Events
}
