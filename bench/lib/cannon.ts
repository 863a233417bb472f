/**
 * Child process: autocannon (closed loop, N keep-alive connections) against one URL, cycling
 * through a list of POST requests. Runs apart from the server so the load generator's CPU is
 * never counted as the server's.
 */
import { createRequire } from 'node:module'
import { serve } from './ipc.ts'

interface Result {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  requests: { total: number; average: number }
  latency: { p50: number; p99: number; average: number }
}
// autocannon ships no type declarations; this is the part of its API used here.
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: object) => Promise<Result>

export interface CannonArgs {
  url: string
  connections: number
  durationSec: number
  /** Spread over the connections: each cycles through its own slice of PER_CONNECTION requests. */
  requests: Array<{ path: string; body: string }>
  /** Counts this string's occurrences in the 2xx answers' bodies (e.g. `"status":"delivered"`). */
  countInBody?: string
}

/**
 * autocannon builds every request of its list for every connection after starting its clock
 * (startTime is taken first): 50 × 2,000 builds cost ~0.8 s of the measured duration, so each
 * connection gets its own short slice instead; together the slices still cover every target.
 */
const PER_CONNECTION = 64

export interface CannonResult {
  rps: number
  total: number
  seconds: number
  non2xx: number
  errors: number
  p50: number
  p99: number
  /** Occurrences of countInBody in 2xx answers, when asked. */
  bodyMatches?: number
}

/** Occurrences of `needle` in `text`. */
function occurrences(text: string, needle: string): number {
  let n = 0
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++
  return n
}

serve({
  async run(a: CannonArgs): Promise<CannonResult> {
    let bodyMatches = 0
    const needle = a.countInBody
    const onResponse = needle === undefined ? undefined : (status: number, body: string) => {
      if (status < 300) bodyMatches += occurrences(body, needle)
    }
    const all = a.requests.map((q) => ({
      method: 'POST', path: q.path, body: q.body, headers: { 'content-type': 'application/json' }, onResponse,
    }))
    const step = Math.max(1, Math.floor(all.length / a.connections))
    const slices = Array.from({ length: a.connections }, (_, i) =>
      Array.from({ length: Math.min(PER_CONNECTION, all.length) }, (_, j) => all[(i * step + j) % all.length]))
    let next = 0
    const r = await autocannon({
      url: a.url,
      connections: a.connections,
      duration: a.durationSec,
      requests: slices[0],
      setupClient: (client: { setRequests(r: object[]): void }) => client.setRequests(slices[next++ % slices.length]),
    })
    return {
      rps: r.requests.total / r.duration, total: r.requests.total, seconds: r.duration,
      non2xx: r.non2xx, errors: r.errors + r.timeouts, p50: r.latency.p50, p99: r.latency.p99,
      bodyMatches: needle === undefined ? undefined : bodyMatches,
    }
  },
})
