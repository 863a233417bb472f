/** The behaviour every Presence implementation must show. */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import type { Presence, PresenceEntry } from './index.ts'
import { sleep } from '../../test/support/wait.ts'

function entry(id: string, brokerId = 'b1', connId = `${brokerId}-${id}`): PresenceEntry {
  return { id, name: `n${id}`, brokerId, connId, since: 1_700_000_000_000 }
}

export function runPresenceContract(name: string, make: () => Promise<Presence>): void {
  describe(`Presence contract: ${name}`, () => {
    let presence: Presence
    beforeEach(async () => { presence = await make() })
    afterEach(async () => { await presence.close() })

    it('claims, reads back and releases an entry', async () => {
      const t = presence.users
      expect(await t.claim(entry('1'), { replace: false, ttlMs: 10_000 })).toEqual({ ok: true })
      expect(await t.get('1')).toEqual(entry('1'))
      expect(await t.getMany(['1', '2'])).toEqual([entry('1'), undefined])
      expect(await t.release('1', 'b1-1')).toBe(true)
      expect(await t.get('1')).toBeUndefined()
    })

    it('refuses a second connection without replace, and replaces with it', async () => {
      const t = presence.users
      await t.claim(entry('1', 'b1'), { replace: false, ttlMs: 10_000 })
      const refused = await t.claim(entry('1', 'b2'), { replace: false, ttlMs: 10_000 })
      expect(refused).toEqual({ ok: false, current: entry('1', 'b1') })
      const replaced = await t.claim(entry('1', 'b2'), { replace: true, ttlMs: 10_000 })
      expect(replaced).toEqual({ ok: true, replaced: entry('1', 'b1') })
      expect((await t.get('1'))?.brokerId).toBe('b2')
    })

    it('a late release of the old connection does not erase the newer one', async () => {
      const t = presence.users
      await t.claim(entry('1', 'b1'), { replace: false, ttlMs: 10_000 })
      await t.claim(entry('1', 'b2'), { replace: true, ttlMs: 10_000 })
      expect(await t.release('1', 'b1-1')).toBe(false)
      expect((await t.get('1'))?.brokerId).toBe('b2')
    })

    it('expires entries whose broker stops refreshing them, keeps refreshed ones', async () => {
      const t = presence.users
      await t.claim(entry('1'), { replace: false, ttlMs: 300 })
      await t.claim(entry('2'), { replace: false, ttlMs: 300 })
      await sleep(150)
      await t.refresh('b1', [entry('2')], 1_000)
      await sleep(300)
      expect(await t.get('1')).toBeUndefined()
      expect(await t.get('2')).toEqual(entry('2'))
      // An expired entry no longer blocks a new login.
      expect((await t.claim(entry('1', 'b9'), { replace: false, ttlMs: 1_000 })).ok).toBe(true)
    })

    it('refresh from another broker does not extend an entry', async () => {
      const t = presence.users
      await t.claim(entry('1', 'b1'), { replace: false, ttlMs: 300 })
      await t.refresh('b2', [entry('1', 'b2')], 10_000)
      await sleep(450)
      expect(await t.get('1')).toBeUndefined()
    })

    it('refresh writes back the entries of its broker the store lost, with all their data (README "Durable data")', async () => {
      const t = presence.users
      await t.claim(entry('1'), { replace: false, ttlMs: 10_000 })
      // '2' and '3' are held by b1 but missing (the store restarted empty).
      expect(await t.refresh('b1', [entry('1'), entry('2'), entry('3')], 10_000)).toBe(2)
      expect(await t.getMany(['1', '2', '3'])).toEqual([entry('1'), entry('2'), entry('3')])
      expect(await t.count()).toBe(3)
      expect((await t.list(undefined, 10)).items.map((e) => e.id)).toEqual(['1', '2', '3'])
      // Written back like a claim: the connection releases it, and removeBroker finds it.
      expect(await t.release('2', 'b1-2')).toBe(true)
      expect(await t.removeBroker('b1')).toBe(2)
      expect(await t.count()).toBe(0)
    })

    it('refresh never replaces the entry of another broker or another connection', async () => {
      const t = presence.users
      // The user moved to b2 while b1 still holds its old connection (its kick is on the way).
      await t.claim(entry('1', 'b2'), { replace: false, ttlMs: 10_000 })
      // A newer login on b1 itself, while the heartbeat still carries the older connection.
      await t.claim(entry('2', 'b1', 'newer'), { replace: false, ttlMs: 10_000 })
      expect(await t.refresh('b1', [entry('1', 'b1'), entry('2', 'b1', 'older')], 10_000)).toBe(0)
      expect(await t.get('1')).toEqual(entry('1', 'b2'))
      expect(await t.get('2')).toEqual(entry('2', 'b1', 'newer'))
      // b1 no longer counts '1' as its own: removing b1 leaves b2's user alone.
      expect(await t.removeBroker('b1')).toBe(1)
      expect(await t.get('1')).toEqual(entry('1', 'b2'))
    })

    it('removes everything a dead broker held', async () => {
      const t = presence.users
      await t.claim(entry('1', 'b1'), { replace: false, ttlMs: 10_000 })
      await t.claim(entry('2', 'b1'), { replace: false, ttlMs: 10_000 })
      await t.claim(entry('3', 'b2'), { replace: false, ttlMs: 10_000 })
      expect(await t.removeBroker('b1')).toBe(2)
      expect(await t.count()).toBe(1)
    })

    it('lets a restarted broker clear what its previous run held, so its users claim again without replacing (broker/registration.ts clearPreviousRun)', async () => {
      await presence.users.claim(entry('1', 'b1', 'run1-a'), { replace: false, ttlMs: 10_000 })
      await presence.devices.claim({ ...entry('d1', 'b1', 'run1-b'), name: undefined }, { replace: false, ttlMs: 10_000 })
      await presence.users.claim(entry('2', 'b2'), { replace: false, ttlMs: 10_000 })
      expect(await presence.users.removeBroker('b1')).toBe(1)
      expect(await presence.devices.removeBroker('b1')).toBe(1)
      expect(await presence.users.claim(entry('1', 'b1', 'run2-a'), { replace: false, ttlMs: 10_000 })).toEqual({ ok: true })
      expect(await presence.users.get('2')).toMatchObject({ brokerId: 'b2' })
      expect(await presence.users.removeBroker('b1')).toBe(1)
      expect(await presence.users.removeBroker('b1')).toBe(0)
    })

    it('pages through every live entry exactly once', async () => {
      const t = presence.users
      for (let i = 0; i < 57; i++) await t.claim(entry(String(1000 + i)), { replace: false, ttlMs: 10_000 })
      const seen: string[] = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = await t.list(cursor, 10)
        seen.push(...page.items.map((e) => e.id))
        cursor = page.next
        pages++
      } while (cursor && pages < 100)
      expect(new Set(seen).size).toBe(57)
      expect(seen.length).toBe(57)
      expect(await t.count()).toBe(57)
    })

    it('keeps users and devices apart', async () => {
      await presence.users.claim(entry('x'), { replace: false, ttlMs: 10_000 })
      expect(await presence.devices.get('x')).toBeUndefined()
      await presence.devices.claim({ ...entry('x'), name: undefined }, { replace: false, ttlMs: 10_000 })
      expect(await presence.devices.count()).toBe(1)
    })
  })
}
