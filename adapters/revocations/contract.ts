/** The behaviour every Revocations implementation must show. `make()` builds an empty store. */
import { describe, it, expect, afterEach } from 'vitest'
import type { Revocations } from './index.ts'

/** Calling `make()` twice in one test must give two handles on the SAME data (two nodes). */
export function runRevocationsContract(name: string, make: () => Promise<Revocations>): void {
  describe(`Revocations contract: ${name}`, () => {
    const opened: Revocations[] = []
    const open = async () => { const s = await make(); opened.push(s); return s }
    afterEach(async () => { for (const s of opened.splice(0)) await s.close?.() })

    it('answers 0 for a subject never revoked', async () => {
      const s = await open()
      expect(await s.revokedAt('user', '42')).toBe(0)
      expect(await s.revokedAt('device', 'dev-1')).toBe(0)
    })

    it('stores the cut-off per kind and subject, seen by another handle', async () => {
      const [a, b] = [await open(), await open()]
      await a.revoke('user', '42', 1_700_000_000)
      expect(await b.revokedAt('user', '42')).toBe(1_700_000_000)
      // A user and a device with the same id are different subjects.
      expect(await b.revokedAt('device', '42')).toBe(0)
      expect(await b.revokedAt('user', '43')).toBe(0)
    })

    it('keeps the latest cut-off: an older revocation never re-admits tokens', async () => {
      const [a, b] = [await open(), await open()]
      await a.revoke('device', 'dev-1', 2000)
      await b.revoke('device', 'dev-1', 1000)
      expect(await a.revokedAt('device', 'dev-1')).toBe(2000)
      await b.revoke('device', 'dev-1', 3000)
      expect(await a.revokedAt('device', 'dev-1')).toBe(3000)
    })
  })
}
