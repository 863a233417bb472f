/** The behaviour every Idempotency implementation must show. `make()` builds an empty store. */
import { describe, it, expect, afterEach } from 'vitest'
import type { Idempotency, PendingRecord } from './index.ts'
import { runOnce } from './once.ts'
import { sleep } from '../../test/support/wait.ts'
import { requestFingerprint } from './fingerprint.ts'

const pending = (token: string, msgId = `m-${token}`, at = Date.now()): PendingRecord => ({ state: 'pending', token, msgId, at })

/** `make()` builds a store; calling it twice in one test must give two handles on the SAME data (two route nodes). */
export function runIdempotencyContract(name: string, make: () => Promise<Idempotency>): void {
  describe(`Idempotency contract: ${name}`, () => {
    const opened: Idempotency[] = []
    const open = async () => { const s = await make(); opened.push(s); return s }
    afterEach(async () => { for (const s of opened.splice(0)) await s.close() })

    it('claims a key once; a second claim sees the pending record', async () => {
      const s = await open()
      expect(await s.claim('k1', pending('a'), 60_000)).toBeUndefined()
      expect(await s.claim('k1', pending('b'), 60_000)).toMatchObject({ state: 'pending', token: 'a', msgId: 'm-a' })
      expect(await s.get('k1')).toMatchObject({ token: 'a' })
      expect(await s.get('other')).toBeUndefined()
    })

    it('keeps the first answer and forgets the key after its window', async () => {
      const s = await open()
      await s.claim('k2', pending('a'), 200)
      const done = { state: 'done' as const, msgId: 'm-a', at: 1, answer: '{"n":1}' }
      expect(await s.complete('k2', done)).toEqual(done)
      expect(await s.complete('k2', { ...done, answer: '{"n":2}' })).toEqual(done)
      expect(await s.claim('k2', pending('b'), 200)).toEqual(done)
      await sleep(300)
      expect(await s.get('k2')).toBeUndefined()
      expect(await s.claim('k2', pending('c'), 200)).toBeUndefined()
    })

    it('lets only the holder of the current token take over', async () => {
      const s = await open()
      await s.claim('k3', pending('a'), 60_000)
      expect(await s.takeOver('k3', 'wrong', pending('b'))).toBe(false)
      expect(await s.takeOver('k3', 'a', pending('b', 'm-a'))).toBe(true)
      expect(await s.takeOver('k3', 'a', pending('c'))).toBe(false)
      expect(await s.get('k3')).toMatchObject({ token: 'b', msgId: 'm-a' })
      expect(await s.takeOver('missing', 'a', pending('b'))).toBe(false)
    })

    it('runOnce: concurrent duplicates on two handles run once and all get the first answer', async () => {
      const [a, b] = [await open(), await open()]
      let runs = 0
      const run = async (msgId: string) => { runs++; await sleep(50); return { msgId, n: runs } }
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
        runOnce(i % 2 ? a : b, 'k4', { windowMs: 60_000, waitMs: 5_000, pollMs: 5 }, run)))
      expect(runs).toBe(1)
      expect(results.filter((r) => r.ran)).toHaveLength(1)
      expect(new Set(results.map((r) => JSON.stringify(r.answer))).size).toBe(1)
      // Later repeats get the stored answer and run nothing.
      expect((await runOnce(a, 'k4', { windowMs: 60_000, waitMs: 5_000 }, run)).answer).toEqual(results[0].answer)
      expect(runs).toBe(1)
    })

    it('runOnce: a failed attempt is retried at once with the same msgId; a stuck one after waitMs', async () => {
      const s = await open()
      const seen: string[] = []
      const opts = { windowMs: 60_000, waitMs: 150, pollMs: 5 }
      await expect(runOnce(s, 'k5', opts, async (msgId) => { seen.push(msgId); throw new Error('broker down') })).rejects.toThrow('broker down')
      const t0 = Date.now()
      const retry = await runOnce(s, 'k5', opts, async (msgId) => { seen.push(msgId); return 'ok' })
      expect(retry).toEqual({ answer: 'ok', ran: true })
      expect(Date.now() - t0).toBeLessThan(150) // abandoned: no waiting
      expect(seen[1]).toBe(seen[0])

      // A claimant that died mid-request (never completes): a duplicate waits waitMs, then runs with its msgId.
      await s.claim('k6', pending('dead', 'm-dead'), 60_000)
      const took = await runOnce(s, 'k6', opts, async (msgId) => msgId)
      expect(took).toEqual({ answer: 'm-dead', ran: true })
    })

    it('keeps the fingerprint through claim, take-over and completion', async () => {
      const s = await open()
      await s.claim('f1', { ...pending('a'), fingerprint: 'fp' }, 60_000)
      expect(await s.claim('f1', pending('b'), 60_000)).toMatchObject({ fingerprint: 'fp' })
      expect(await s.takeOver('f1', 'a', { ...pending('b'), fingerprint: 'fp' })).toBe(true)
      expect(await s.complete('f1', { state: 'done', msgId: 'm', at: 1, answer: '1', fingerprint: 'fp' })).toMatchObject({ state: 'done', fingerprint: 'fp' })
      expect(await s.get('f1')).toMatchObject({ state: 'done', fingerprint: 'fp' })
    })

    it('runOnce: another request under the same key is refused (done, running or abandoned) and runs nothing', async () => {
      const [a, b] = [await open(), await open()]
      const fpA = requestFingerprint('push/users/1', { message: 'pay 10', idempotencyKey: 'x' })
      const fpB = requestFingerprint('push/users/1', { message: 'pay 1000', idempotencyKey: 'x' })
      expect(fpA).not.toBe(fpB)
      expect(requestFingerprint('push/users/1', { idempotencyKey: 'y', message: 'pay 10' })).toBe(fpA)
      let runs = 0
      const run = async (msgId: string) => { runs++; return msgId }
      const opts = (fingerprint: string) => ({ windowMs: 60_000, waitMs: 5_000, pollMs: 5, fingerprint, name: 'x' })
      await runOnce(a, 'g1', opts(fpA), run)
      await expect(runOnce(b, 'g1', opts(fpB), run)).rejects.toMatchObject({ code: 'CIM_IDEMPOTENCY_MISMATCH', statusCode: 422 })
      // Running: refused at once, not after waiting for the first answer.
      await a.claim('g2', { ...pending('live'), fingerprint: fpA }, 60_000)
      const t0 = Date.now()
      await expect(runOnce(b, 'g2', opts(fpB), run)).rejects.toMatchObject({ code: 'CIM_IDEMPOTENCY_MISMATCH' })
      expect(Date.now() - t0).toBeLessThan(1_000)
      // Abandoned: not taken over by another request; taken over by the same one, with its msgId.
      await a.claim('g3', { ...pending('dead', 'm-dead', 0), fingerprint: fpA }, 60_000)
      await expect(runOnce(b, 'g3', opts(fpB), run)).rejects.toMatchObject({ code: 'CIM_IDEMPOTENCY_MISMATCH' })
      expect(runs).toBe(1)
      expect(await runOnce(b, 'g3', opts(fpA), run)).toEqual({ answer: 'm-dead', ran: true })
      expect(await b.get('g3')).toMatchObject({ state: 'done', fingerprint: fpA })
    })

    it('runOnce: records of earlier versions (no fingerprint) are honoured as before', async () => {
      const s = await open()
      let runs = 0
      const run = async (msgId: string) => { runs++; return msgId }
      const opts = { windowMs: 60_000, waitMs: 5_000, pollMs: 5, fingerprint: 'fp-new' }
      await s.claim('h1', pending('old', 'm-old'), 60_000)
      await s.complete('h1', { state: 'done', msgId: 'm-old', at: 1, answer: '"old answer"' })
      expect(await runOnce(s, 'h1', opts, run)).toEqual({ answer: 'old answer', ran: false })
      await s.claim('h2', pending('old', 'm-old', 0), 60_000)
      expect(await runOnce(s, 'h2', opts, run)).toEqual({ answer: 'm-old', ran: true })
      // Under the key an earlier version used (legacyKey): replayed, and copied to the new key.
      await s.claim('legacy', pending('old', 'm-l'), 60_000)
      await s.complete('legacy', { state: 'done', msgId: 'm-l', at: 1, answer: '"legacy answer"' })
      expect(await runOnce(s, 'scoped', { ...opts, legacyKey: 'legacy' }, run)).toEqual({ answer: 'legacy answer', ran: false })
      expect(await s.get('scoped')).toMatchObject({ state: 'done', answer: '"legacy answer"' })
      // A legacy run that died: run again with its msgId. None: a fresh run.
      await s.claim('legacy2', pending('old', 'm-l2', 0), 60_000)
      expect(await runOnce(s, 'scoped2', { ...opts, legacyKey: 'legacy2' }, run)).toEqual({ answer: 'm-l2', ran: true })
      expect((await runOnce(s, 'scoped3', { ...opts, legacyKey: 'none' }, run)).ran).toBe(true)
      expect(runs).toBe(2 + 1)
    })
  })
}
