/**
 * Runs a request once per idempotency key, on any implementation of Idempotency:
 *  1. claim the key (atomic) with a pending record carrying a fresh server-assigned msgId;
 *  2. the claimant runs and stores its answer; a failure marks the claim abandoned (at = 0);
 *  3. a duplicate that finds the key pending polls for the answer; if the claim is abandoned, or
 *     older than `waitMs` (its route node died mid-request), it takes over and runs again with the
 *     SAME msgId — anything the first attempt already stored or sent reaches the app as a
 *     duplicate that clients drop by msgId, so nothing is lost and nothing is seen twice;
 *  4. a duplicate that finds the answer returns it.
 */
import { randomUUID } from 'node:crypto'
import type { Idempotency, IdempotencyRecord, PendingRecord } from './index.ts'
import { setTimeout as sleep } from 'node:timers/promises'

export interface RunOnceOptions {
  /** How long the key (pending or done) is remembered (config.idempotencyWindowSeconds). */
  windowMs: number
  /** How long a pending claim may run before a duplicate takes it over. */
  waitMs: number
  /** Poll interval while waiting. Default 25 ms. */
  pollMs?: number
}

export interface RunOnceResult<T> {
  answer: T
  /** False when the answer is a stored one (nothing was run by this call). */
  ran: boolean
}

/** Attempts before giving up when other requests keep changing the record under us. */
const MAX_ROUNDS = 10

export async function runOnce<T>(
  store: Idempotency, key: string, opts: RunOnceOptions, run: (msgId: string) => Promise<T>,
): Promise<RunOnceResult<T>> {
  const token = randomUUID()
  const pollMs = opts.pollMs ?? 25
  const execute = async (mine: PendingRecord): Promise<RunOnceResult<T>> => {
    let answer: T
    try {
      answer = await run(mine.msgId)
    } catch (err) {
      // The next request with this key runs again at once, with the same msgId.
      await store.takeOver(key, token, { ...mine, at: 0 }).catch(() => {})
      throw err
    }
    const stored = await store.complete(key, { state: 'done', msgId: mine.msgId, at: Date.now(), answer: JSON.stringify(answer) })
    // Someone who took over finished first: the first stored answer is the answer.
    if (stored?.state === 'done') return { answer: JSON.parse(stored.answer) as T, ran: true }
    return { answer, ran: true }
  }

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const mine: PendingRecord = { state: 'pending', token, msgId: randomUUID(), at: Date.now() }
    let found: IdempotencyRecord | undefined = await store.claim(key, mine, opts.windowMs)
    if (found === undefined) return execute(mine)
    // Someone holds the key: wait for its answer, or take over a claim that is abandoned or stuck.
    while (found?.state === 'pending') {
      const age = Date.now() - found.at
      if (found.at === 0 || age >= opts.waitMs) {
        const next: PendingRecord = { state: 'pending', token, msgId: found.msgId, at: Date.now() }
        if (await store.takeOver(key, found.token, next)) return execute(next)
      } else {
        await sleep(Math.min(pollMs, opts.waitMs - age))
      }
      found = await store.get(key)
    }
    if (found?.state === 'done') return { answer: JSON.parse(found.answer) as T, ran: false }
    // Gone (expired between calls): claim it afresh.
  }
  throw new Error(`idempotency key ${key}: the record kept changing; try again`)
}
