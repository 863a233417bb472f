/** The behaviour every Accounts implementation must show. Called from each implementation's test. */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import type { Accounts } from './index.ts'

export function runAccountsContract(name: string, make: () => Promise<Accounts>): void {
  describe(`Accounts contract: ${name}`, () => {
    let accounts: Accounts
    beforeEach(async () => { accounts = await make() })
    afterEach(async () => { await accounts.close() })

    it('registers a name once and returns the same id on repeat', async () => {
      const a = await accounts.register('alice')
      const again = await accounts.register('alice')
      expect(a.created).toBe(true)
      expect(again.created).toBe(false)
      expect(again.userId).toBe(a.userId)
    })

    it('gives distinct, JSON-safe, millisecond-clock ids to different names', async () => {
      const names = Array.from({ length: 20 }, (_, i) => `user-${i}`)
      const ids = await Promise.all(names.map((n) => accounts.register(n).then((a) => a.userId)))
      expect(new Set(ids).size).toBe(20)
      for (const id of ids) {
        expect(Number.isSafeInteger(id)).toBe(true)
        expect(id).toBeGreaterThan(1_600_000_000_000)
      }
    })

    it('looks up by id and by name, undefined when unknown', async () => {
      const a = await accounts.register('bob')
      expect(await accounts.get(a.userId)).toEqual({ userId: a.userId, userName: 'bob' })
      expect(await accounts.getByName('bob')).toEqual({ userId: a.userId, userName: 'bob' })
      expect(await accounts.get(1)).toBeUndefined()
      expect(await accounts.getByName('nobody')).toBeUndefined()
    })
  })
}
