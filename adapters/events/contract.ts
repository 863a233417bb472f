/** The behaviour every EventLog implementation must show. `make()` builds an empty log. */
import { describe, it, expect, afterEach } from 'vitest'
import type { EventLog } from './index.ts'
import { sleep } from '../../test/support/wait.ts'

/** Calling `make()` twice in one test must give two handles on the SAME data (two nodes). */
export function runEventLogContract(name: string, make: () => Promise<EventLog>): void {
  describe(`EventLog contract: ${name}`, () => {
    const opened: EventLog[] = []
    const open = async () => { const l = await make(); opened.push(l); return l }
    afterEach(async () => { for (const l of opened.splice(0)) await l.close() })

    it('reads appended entries in order after a cursor, per partition', async () => {
      const log = await open()
      expect(await log.cursor(3)).toBe('0-0')
      expect(await log.append(3, ['a', 'b', 'c'])).toBe(3)
      await log.append(4, ['x'])
      const all = await log.read(3, '0-0', 10)
      expect(all.entries.map((e) => e.data)).toEqual(['a', 'b', 'c'])
      expect(all.depth).toBe(3)
      const rest = await log.read(3, all.entries[0]!.id, 10)
      expect(rest.entries.map((e) => e.data)).toEqual(['b', 'c'])
      expect((await log.read(3, '0-0', 2)).entries.map((e) => e.data)).toEqual(['a', 'b'])
      expect((await log.read(4, '0-0', 10)).entries.map((e) => e.data)).toEqual(['x'])
    })

    it('gives a partition to one owner at a time; release or expiry hands it over', async () => {
      const [a, b] = [await open(), await open()]
      expect(await a.acquire(0, 'node-a', 10_000)).toBe(true)
      expect(await a.acquire(0, 'node-a', 10_000)).toBe(true) // renewal
      expect(await b.acquire(0, 'node-b', 10_000)).toBe(false)
      expect(await b.acquire(1, 'node-b', 10_000)).toBe(true) // partitions are independent
      await b.release(0, 'node-b') // not its lease: nothing happens
      expect(await b.acquire(0, 'node-b', 10_000)).toBe(false)
      await a.release(0, 'node-a')
      expect(await b.acquire(0, 'node-b', 150)).toBe(true)
      await sleep(300)
      expect(await a.acquire(0, 'node-a', 10_000)).toBe(true)
    })

    it('records delivery for the lease owner only; another handle resumes after the cursor', async () => {
      const [a, b] = [await open(), await open()]
      await a.append(7, ['e1', 'e2', 'e3'])
      const { entries } = await a.read(7, '0-0', 2)
      expect(await a.acquire(7, 'node-a', 10_000)).toBe(true)
      expect(await b.ack(7, 'node-b', entries[1]!.id)).toBe(false)
      expect(await a.ack(7, 'node-a', entries[1]!.id)).toBe(true)
      await a.release(7, 'node-a')
      const cursor = await b.cursor(7)
      expect(cursor).toBe(entries[1]!.id)
      const left = await b.read(7, cursor, 10)
      expect(left.entries.map((e) => e.data)).toEqual(['e3'])
      // Delivered entries are forgotten, not only skipped.
      expect(left.depth).toBe(1)
      expect((await b.read(7, '0-0', 10)).entries.map((e) => e.data)).toEqual(['e3'])
    })

    it('keeps dead letters with their reason, newest first', async () => {
      const [a, b] = [await open(), await open()]
      await a.deadLetter(['d1', 'd2'], 'HTTP 500')
      await a.deadLetter(['d3'], 'timeout')
      const dead = await b.readDeadLetters(10)
      expect(dead.map((d) => [d.data, d.reason])).toEqual([['d3', 'timeout'], ['d2', 'HTTP 500'], ['d1', 'HTTP 500']])
      expect(dead[0]!.at).toBeGreaterThan(Date.now() - 60_000)
    })
  })
}
