/** What every route plugin receives: configuration, the adapter set and the broker balancer. */
import type { Config } from '../config.ts'
import type { Adapters } from '../adapters/index.ts'
import type { Balancer } from './balancer.ts'

export interface RouteContext {
  config: Config
  adapters: Adapters
  balancer: Balancer
}
