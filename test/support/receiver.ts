/**
 * A webhook receiver for tests: a real node:http server collecting the `{ events: [...] }` batches
 * POSTed to it (README "Events to your backend"). It can go down (its port refuses connections)
 * and come back on the same port, can be made slow (answers after a delay) or answer another
 * status (a failing backend), and keeps each answered request whole (raw body and headers, for the
 * signature recipe).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { CimEvent } from '../../events/index.ts'
import { freePort } from './servers.ts'

/** One request as it was answered. */
export interface AnsweredRequest { body: string; headers: IncomingHttpHeaders; events: CimEvent[]; status: number }

export class Receiver {
  /** Every event of a 2xx-answered request, in arrival order (a redelivered one appears again: dedupe by `id`). */
  readonly events: CimEvent[] = []
  /** Every answered request, whatever its status, in the order answered. */
  readonly answered: AnsweredRequest[] = []
  /** Requests received, answered or not. */
  requests = 0
  /** Milliseconds to wait before answering. */
  delayMs = 0
  /** The status answered (a body that is not `{events: [...]}` JSON gets 400). */
  status = 200
  private server: Server | undefined
  private readonly waiting = new Set<ServerResponse>()

  private constructor(readonly port: number) {}

  /** `listen` false: the port is chosen but refuses connections until up(). */
  static async start(listen = true): Promise<Receiver> {
    const r = new Receiver(await freePort())
    if (listen) await r.up()
    return r
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`
  }

  /** Events by id, first arrival kept, in arrival order. */
  unique(): CimEvent[] {
    const seen = new Set<string>()
    return this.events.filter((e) => !seen.has(e.id) && seen.add(e.id))
  }

  of(...types: string[]): CimEvent[] {
    return this.unique().filter((e) => types.includes(e.type))
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    this.server = server
  }

  /** Stops listening and drops every open connection: senders see connection refused. */
  async down(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (!server) return
    for (const res of this.waiting) res.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const answer = () => {
        this.waiting.delete(res)
        if (res.destroyed) return
        const body = Buffer.concat(chunks).toString()
        let events: CimEvent[]
        try {
          events = (JSON.parse(body) as { events: CimEvent[] }).events
        } catch {
          res.writeHead(400).end()
          return
        }
        const status = this.status
        this.answered.push({ body, headers: req.headers, events, status })
        if (status >= 200 && status < 300) this.events.push(...events)
        res.writeHead(status).end()
      }
      if (this.delayMs > 0) {
        this.waiting.add(res)
        setTimeout(answer, this.delayMs)
      } else answer()
    })
  }

  close(): Promise<void> {
    return this.down()
  }
}
