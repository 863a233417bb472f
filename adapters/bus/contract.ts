/** The behaviour every Bus implementation must show. */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import type { Bus, BusMessage } from './index.ts'
import { BusRpc } from './rpc.ts'
import { eventually, sleep } from '../../test/support/wait.ts'

/** `make` returns two handles on the same bus (for Redis: two separate connections). */
export function runBusContract(name: string, make: () => Promise<[Bus, Bus]>): void {
  describe(`Bus contract: ${name}`, () => {
    let a: Bus
    let b: Bus
    beforeEach(async () => { [a, b] = await make() })
    afterEach(async () => { await a.close(); await b.close() })

    it('delivers a message published on one handle to a subscriber on the other, once', async () => {
      const got: BusMessage[] = []
      await b.subscribe('ch1', (m) => got.push(m))
      await a.publish('ch1', { type: 'push', userId: 1747309836375, text: 'héllo' })
      await eventually(() => got.length === 1, 5_000)
      await sleep(50)
      expect(got).toEqual([{ type: 'push', userId: 1747309836375, text: 'héllo' }])
    })

    it('keeps channels apart and preserves order on one channel', async () => {
      const one: number[] = []
      const two: number[] = []
      await b.subscribe('one', (m) => one.push(m.n as number))
      await b.subscribe('two', (m) => two.push(m.n as number))
      for (let n = 0; n < 100; n++) await a.publish(n % 2 ? 'one' : 'two', { type: 't', n })
      await eventually(() => one.length === 50 && two.length === 50, 5_000)
      expect(one).toEqual(Array.from({ length: 50 }, (_, i) => i * 2 + 1))
    })

    it('stops delivering after unsubscribe', async () => {
      const got: BusMessage[] = []
      const off = await b.subscribe('ch', (m) => got.push(m))
      await a.publish('ch', { type: 'x' })
      await eventually(() => got.length === 1, 5_000)
      await off()
      await a.publish('ch', { type: 'y' })
      await sleep(100)
      expect(got.length).toBe(1)
    })

    it('carries request/reply with a timeout for missing answers', async () => {
      const client = new BusRpc(a)
      const server = new BusRpc(b)
      await client.start()
      await b.subscribe('svc', (m) => { void server.reply(m, { type: 'ok', echo: m.v }) })
      const replies = await client.request('svc', { type: 'q', v: 7 }, 1, 2_000)
      expect(replies.map((r) => r.echo)).toEqual([7])
      const none = await client.request('nobody-listens', { type: 'q' }, 1, 100)
      expect(none).toEqual([])
      await client.close()
    })

    it('tells a publisher how many nodes heard a message, so a request nobody hears ends at once', async () => {
      await b.subscribe('heard', () => {})
      expect(await a.publish('heard', { type: 'x' })).toBe(1)
      expect(await a.publish('unheard', { type: 'x' })).toBe(0)
      const client = new BusRpc(a)
      await client.start()
      const started = Date.now()
      // A broker killed before discovery dropped it: no subscriber, so no wait for the 10 s timeout.
      expect(await client.request('unheard', { type: 'q' }, 1, 10_000)).toEqual([])
      expect(Date.now() - started).toBeLessThan(5_000)
      await client.close()
    })
  })
}
