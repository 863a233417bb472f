/**
 * Readiness (README "Operations"): whether the backends a node depends on answer now. `/ready` on
 * the route and on the broker's HTTP port asks these probes plus the node's own draining state;
 * `/health` asks nothing (the process answers: liveness).
 *
 * The probes live here because only adapters/ talks to Redis and ZooKeeper clients. They never
 * queue work on a backend that is down: a Redis connection that is not `ready` fails at once
 * (ioredis would otherwise hold the PING in its offline queue until it reconnects, one more per
 * probe), and ZooKeeper is the client's session state, no request at all.
 */
import type { Redis } from 'ioredis'

/** One backend /ready checks. `check` resolves undefined when it is reachable, else why not. */
export interface BackendProbe {
  readonly name: 'redis' | 'zookeeper'
  check(timeoutMs: number): Promise<string | undefined>
}

/** A PING answered within the timeout. */
export function redisProbe(client: Redis): BackendProbe {
  return {
    name: 'redis',
    async check(timeoutMs) {
      if (client.status !== 'ready') return `connection ${client.status}`
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<string>((resolve) => { timer = setTimeout(() => resolve(`no PING answer within ${timeoutMs} ms`), timeoutMs) })
      try {
        return await Promise.race([client.ping().then(() => undefined, (err: Error) => err.message), late])
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

/** The ZooKeeper client's session: connected or not. */
export function zooKeeperProbe(discovery: { readonly connected: boolean }): BackendProbe {
  return {
    name: 'zookeeper',
    async check() {
      return discovery.connected ? undefined : 'no ZooKeeper session'
    },
  }
}

/** How long a probe may take before /ready counts it as down. */
export const READY_PROBE_TIMEOUT_MS = 1_000

/** One part of the readiness answer. */
export interface ReadinessCheck {
  ok: boolean
  /** Why not, when not ok. */
  error?: string
}

/**
 * The body of /ready (stable field names): `ready`, `notReady` (the names of the failing checks:
 * `redis`, `zookeeper`, `draining`) and `checks` by name. Only configured backends are checked.
 */
export interface Readiness {
  ready: boolean
  notReady: string[]
  checks: Record<string, ReadinessCheck>
}

export async function readiness(probes: readonly BackendProbe[], draining: boolean, timeoutMs = READY_PROBE_TIMEOUT_MS): Promise<Readiness> {
  const errors = await Promise.all(probes.map((p) => p.check(timeoutMs).catch((err: Error) => err.message)))
  const checks: Record<string, ReadinessCheck> = {}
  probes.forEach((p, i) => { checks[p.name] = errors[i] === undefined ? { ok: true } : { ok: false, error: errors[i] } })
  checks.draining = draining ? { ok: false, error: 'the node is shutting down' } : { ok: true }
  const notReady = Object.keys(checks).filter((name) => !checks[name].ok)
  return { ready: notReady.length === 0, notReady, checks }
}
