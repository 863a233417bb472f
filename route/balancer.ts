/**
 * Broker selection at login (and for "any live broker" requests). Strategies as in upstream cim
 * (consistent hash, loop, random) plus least connections. Draining brokers are never chosen; with
 * none left the choice fails with CIM_NO_BROKER (upstream answers 7100 SERVER_NOT_AVAILABLE).
 */
import { createHash } from 'node:crypto'
import type { BalanceStrategy } from '../config.ts'
import type { BrokerInfo } from '../adapters/discovery/index.ts'
import { codedError } from '../errors.ts'

export interface Balancer {
  readonly strategy: BalanceStrategy
  /** Picks a live (not draining) broker for `key` (a userId, a topic). Throws CIM_NO_BROKER. */
  choose(key: string, brokers: readonly BrokerInfo[]): BrokerInfo
}

export interface BalancerOptions {
  /** Points per broker on the hash ring. Default 160: keeps each broker's share within ~10%. */
  virtualNodes?: number
  /** Source of randomness for `random` and tie-breaking (tests pass a seeded one). Default Math.random. */
  random?: () => number
}

function live(brokers: readonly BrokerInfo[]): BrokerInfo[] {
  const ok = brokers.filter((b) => !b.draining)
  if (ok.length === 0) {
    throw codedError('NoBroker', brokers.length ? `all ${brokers.length} brokers are draining` : 'no broker is registered')
  }
  // Discovery order is not guaranteed across nodes; sort so every route node agrees.
  return ok.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** First 32 bits of MD5: well spread, and the same on every route node and every run. */
export function hash32(s: string): number {
  return createHash('md5').update(s).digest().readUInt32BE(0)
}

/**
 * A hash ring over broker ids with `virtualNodes` points each. Adding a broker takes over only
 * the arcs its own points land on, so about 1/N of the keys move and the rest stay put.
 */
export class HashRing {
  private readonly points: number[] = []
  private readonly owners: string[] = []

  constructor(ids: readonly string[], virtualNodes: number) {
    const all: Array<[number, string]> = []
    for (const id of ids) for (let v = 0; v < virtualNodes; v++) all.push([hash32(`${id}#${v}`), id])
    // Ties (vanishingly rare) resolve by id so the ring is identical on every node.
    all.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1))
    for (const [p, id] of all) { this.points.push(p); this.owners.push(id) }
  }

  /** The owner of the first point at or after hash(key), wrapping around. */
  lookup(key: string): string {
    const h = hash32(key)
    let lo = 0
    let hi = this.points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.points[mid] < h) lo = mid + 1
      else hi = mid
    }
    return this.owners[lo === this.points.length ? 0 : lo]
  }
}

export function createBalancer(strategy: BalanceStrategy, opts: BalancerOptions = {}): Balancer {
  const random = opts.random ?? Math.random
  switch (strategy) {
    case 'consistent-hash': {
      const virtualNodes = opts.virtualNodes ?? 160
      // Rebuilt only when the set of live broker ids changes.
      let ringKey = ''
      let ring = new HashRing([], virtualNodes)
      return {
        strategy,
        choose(key, brokers) {
          const ok = live(brokers)
          const ids = ok.map((b) => b.id).join('\n')
          if (ids !== ringKey) { ring = new HashRing(ok.map((b) => b.id), virtualNodes); ringKey = ids }
          const id = ring.lookup(key)
          return ok.find((b) => b.id === id)!
        },
      }
    }
    case 'round-robin': {
      let next = 0
      return {
        strategy,
        choose(_key, brokers) {
          const ok = live(brokers)
          const b = ok[next % ok.length]
          next = (next + 1) % Number.MAX_SAFE_INTEGER
          return b
        },
      }
    }
    case 'random':
      return { strategy, choose: (_key, brokers) => { const ok = live(brokers); return ok[Math.floor(random() * ok.length)] } }
    case 'least-connections':
      return {
        strategy,
        choose(_key, brokers) {
          const ok = live(brokers)
          const min = Math.min(...ok.map((b) => b.connections))
          // Connection counts refresh every few seconds; spreading ties at random keeps a burst of
          // logins from all landing on the one broker that looked emptiest.
          const tied = ok.filter((b) => b.connections === min)
          return tied[Math.floor(random() * tied.length)]
        },
      }
    default:
      throw new Error(`unknown balance strategy ${String(strategy)}`)
  }
}
