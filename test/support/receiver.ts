/**
 * A webhook receiver for tests: a real node:http server collecting the `{ events: [...] }` batches
 * POSTed to it (README "Events to your backend"). It can go down (its port refuses connections)
 * and come back on the same port, and can be made slow (answers after a delay).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { CimEvent } from '../../events/index.ts'
import { freePort } from './servers.ts'

export class Receiver {
  /** Every event received, in arrival order (a redelivered one appears again: dedupe by `id`). */
  readonly events: CimEvent[] = []
  /** Requests received, answered or not. */
  requests = 0
  /** Milliseconds to wait before answering. */
  delayMs = 0
  private server: Server | undefined
  private readonly waiting = new Set<ServerResponse>()

  private constructor(readonly port: number) {}

  static async start(): Promise<Receiver> {
    const r = new Receiver(await freePort())
    await r.up()
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
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { events: CimEvent[] }
          this.events.push(...body.events)
          res.writeHead(200).end()
        } catch {
          res.writeHead(400).end()
        }
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
