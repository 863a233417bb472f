/** A node's Events as node.ts wires them: built from the settings, closed (and drained) by node.close(). */
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { createNode } from '../node.ts'
import { Receiver } from '../test/support/receiver.ts'

describe('node events', () => {
  it('delivers what is pending in a memory log when the node closes', async () => {
    const receiver = await Receiver.start()
    try {
      // A long batch window: without close() draining it, nothing would have left yet.
      const node = await createNode({
        roles: { broker: false, route: true }, logger: pino({ level: 'silent' }),
        settings: { routePort: 0, webhookUrl: receiver.url, webhookSecret: 's', webhookBatchMs: 60_000 },
      })
      node.events.emit({ type: 'device.connected', clientId: 'd1' })
      node.events.emit({ type: 'device.disconnected', clientId: 'd1', reason: 'closed' })
      await node.close()
      expect(receiver.events.map((e) => e.type)).toEqual(['device.connected', 'device.disconnected'])
    } finally {
      await receiver.close()
    }
  })

  it('refuses to start with --event-stream and no --redis', async () => {
    await expect(createNode({ roles: { broker: false, route: true }, logger: pino({ level: 'silent' }), settings: { routePort: 0, eventStream: 'cim:events' } }))
      .rejects.toThrow(/needs --redis/)
  })
})
