/** The behaviour every Discovery implementation must show. */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import type { BrokerInfo, Discovery } from './index.ts'
import { eventually } from '../../test/support/wait.ts'

function info(id: string, cimPort = 11211): BrokerInfo {
  return { id, host: '10.0.0.1', cimPort, httpPort: 8081, mqttPort: 1883, wsPort: 9001, connections: 0, draining: false, startedAt: 1 }
}

/**
 * `make` returns two handles on the same registry (for ZooKeeper: two separate sessions), so the
 * suite checks that one node's registration is seen by the other.
 */
export function runDiscoveryContract(name: string, make: () => Promise<[Discovery, Discovery]>): void {
  describe(`Discovery contract: ${name}`, () => {
    let a: Discovery
    let b: Discovery
    beforeEach(async () => { [a, b] = await make() })
    afterEach(async () => { await a.close(); await b.close() })

    it('a registration is seen by every handle, with its ports', async () => {
      await a.register(info('n1', 11211))
      await eventually(() => b.brokers().length === 1, 5_000)
      expect(b.brokers()[0]).toEqual(info('n1', 11211))
    })

    it('updates connection counts and the draining flag', async () => {
      const reg = await a.register(info('n1'))
      await reg.update({ connections: 42, draining: true })
      await eventually(() => b.brokers()[0]?.connections === 42, 5_000)
      expect(b.brokers()[0].draining).toBe(true)
    })

    it('deregister removes the node and notifies listeners', async () => {
      const seen: number[] = []
      b.onChange((list) => seen.push(list.length))
      const r1 = await a.register(info('n1'))
      await a.register(info('n2', 11212))
      await eventually(() => b.brokers().length === 2, 5_000)
      await r1.deregister()
      await eventually(() => b.brokers().length === 1, 5_000)
      expect(b.brokers()[0].id).toBe('n2')
      expect(seen.at(-1)).toBe(1)
    })

    it('isListed answers for the current list and follows every change', async () => {
      expect(b.isListed('n1')).toBe(false)
      const r1 = await a.register(info('n1'))
      await eventually(() => b.isListed('n1'), 5_000)
      expect(b.isListed('n2')).toBe(false)
      // An update replaces the snapshot: the answer must come from the new one, not a stale set.
      await r1.update({ connections: 7 })
      await eventually(() => b.brokers()[0]?.connections === 7, 5_000)
      expect(b.isListed('n1')).toBe(true)
      await a.register(info('n2', 11212))
      await eventually(() => b.isListed('n2'), 5_000)
      await r1.deregister()
      await eventually(() => !b.isListed('n1'), 5_000)
      expect(b.isListed('n2')).toBe(true)
      expect(a.isListed('n1')).toBe(false)
    })
  })
}
