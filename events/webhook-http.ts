/**
 * One webhook request (README "Events to your backend"): the batch body, its signature headers,
 * the POST with a timeout, and the retry delay. No state: events/webhook.ts decides what to send
 * and when.
 */
import { sign } from './signature.ts'
import type { LogEntry } from '../adapters/events/index.ts'

/** `{"events":[...]}` from entries that already are JSON: no parse and re-serialize. */
export function batchBody(entries: readonly LogEntry[]): string {
  let body = '{"events":['
  for (let i = 0; i < entries.length; i++) body += (i ? ',' : '') + entries[i]!.data
  return body + ']}'
}

/**
 * POSTs `body` signed with `secret` (unsigned when empty). Resolves undefined when answered 2xx,
 * else with why not (`HTTP 503`, `ECONNREFUSED`, `no answer within 5000 ms`); never rejects.
 * A fresh timestamp per try, so a backend's replay window accepts a retry.
 */
export async function postBatch(url: string, secret: string, body: string, timeoutMs: number, stop: AbortSignal): Promise<string | undefined> {
  const timestamp = Math.floor(Date.now() / 1000)
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-cim-timestamp': String(timestamp) }
  if (secret) headers['x-cim-signature'] = sign(secret, timestamp, body)
  // One controller per try, unhooked from `stop` when the try ends: a listener left on the
  // long-lived `stop` signal per request would pile up for as long as the node runs.
  const abort = new AbortController()
  const onStop = (): void => abort.abort(stop.reason)
  stop.addEventListener('abort', onStop, { once: true })
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; abort.abort() }, timeoutMs)
  try {
    // Node's fetch (undici) keeps connections alive: consecutive batches reuse one.
    const res = await fetch(url, { method: 'POST', headers, body, signal: abort.signal })
    await res.arrayBuffer() // read to the end so the connection is reused
    return res.ok ? undefined : `HTTP ${res.status}`
  } catch (err) {
    if (timedOut) return `no answer within ${timeoutMs} ms`
    const e = err as Error & { cause?: { code?: string; message?: string } }
    return e.cause?.code ?? e.cause?.message ?? e.message
  } finally {
    clearTimeout(timer)
    stop.removeEventListener('abort', onStop)
  }
}

/** Exponential backoff with full jitter: try n+1 waits a random time in [0, min(cap, base·2^(n-1))]. */
export function retryDelayMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** (attempt - 1))
}
