/**
 * A real HTTP server playing the business backend behind the auth webhook (docs/security.md, Auth
 * webhook): records every request (headers, raw body) and answers what the test says. Servers
 * are closed after each test.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'

export interface AskedRequest {
  headers: IncomingHttpHeaders
  /** The body exactly as received (what the signature covers). */
  raw: string
  body: Record<string, unknown>
}

export interface BackendAnswer {
  status?: number
  /** Sent as JSON; `text` instead sends it as it is. */
  json?: unknown
  text?: string
  /** Waits this long before answering. */
  delayMs?: number
}

export interface AuthBackend {
  url: string
  asked: AskedRequest[]
  /** What to answer a request (default: allow). */
  answer: (body: Record<string, unknown>) => BackendAnswer
}

const servers: Array<{ close(): void; closeAllConnections(): void }> = []
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    s.close()
  }
})

export async function startAuthBackend(): Promise<AuthBackend> {
  const backend: AuthBackend = { url: '', asked: [], answer: () => ({ json: { allow: true } }) }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const body = JSON.parse(raw) as Record<string, unknown>
      backend.asked.push({ headers: req.headers, raw, body })
      const a = backend.answer(body)
      const send = () => {
        if (res.destroyed) return
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json' })
        res.end(a.text ?? JSON.stringify(a.json ?? {}))
      }
      if (a.delayMs) setTimeout(send, a.delayMs)
      else send()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  backend.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`
  return backend
}
