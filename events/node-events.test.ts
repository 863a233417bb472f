/** A node's Events as node.ts wires them: built from the settings, closed (and drained) by node.close(). */
import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { createNode } from '../node.ts'
import type { CimEvent } from './index.ts'

describe('node events', () => {
  it('delivers what is pending in a memory log when the node closes', async () => {
    const received: CimEvent[] = []
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => { received.push(...(JSON.parse(Buffer.concat(chunks).toString()) as { events: CimEvent[] }).events); res.end() })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    try {
      // A long batch window: without close() draining it, nothing would have left yet.
      const node = await createNode({
        roles: { broker: false, route: true }, logger: pino({ level: 'silent' }),
        settings: { routePort: 0, webhookUrl: `http://127.0.0.1:${port}/hook`, webhookSecret: 's', webhookBatchMs: 60_000 },
      })
      node.events.emit({ type: 'device.connected', clientId: 'd1' })
      node.events.emit({ type: 'device.disconnected', clientId: 'd1', reason: 'closed' })
      await node.close()
      expect(received.map((e) => e.type)).toEqual(['device.connected', 'device.disconnected'])
    } finally {
      server.close()
    }
  })

  it('refuses to start with --event-stream and no --redis', async () => {
    await expect(createNode({ roles: { broker: false, route: true }, logger: pino({ level: 'silent' }), settings: { routePort: 0, eventStream: 'cim:events' } }))
      .rejects.toThrow(/needs --redis/)
  })
})
