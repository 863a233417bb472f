/**
 * Runs a request once per idempotency key, on any implementation of Idempotency:
 *  1. claim the key (atomic) with a pending record carrying a fresh server-assigned msgId and the
 *     request's fingerprint;
 *  2. the claimant runs and stores its answer; a failure marks the claim abandoned (at = 0);
 *  3. a duplicate that finds the key pending polls for the answer; if the claim is abandoned, or
 *     older than `waitMs` (its route node died mid-request), it takes over and runs again with the
 *     SAME msgId — anything the first attempt already stored or sent reaches the app as a
 *     duplicate that clients drop by msgId, so nothing is lost and nothing is seen twice;
 *  4. a duplicate that finds the answer returns it.
 * A record whose fingerprint differs from the request's is another request under the same key:
 * at any of these steps it is refused with CIM_IDEMPOTENCY_MISMATCH (422) and nothing runs. A
 * record without a fingerprint (written by an earlier version) matches any request, as it did then.
 */
import { randomUUID } from 'node:crypto'
import type { Idempotency, IdempotencyRecord, PendingRecord } from './index.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import { codedError } from '../../errors.ts'

export interface RunOnceOptions {
  /** How long the key (pending or done) is remembered (config.idempotencyWindowSeconds). */
  windowMs: number
  /** How long a pending claim may run before a duplicate takes it over. */
  waitMs: number
  /** Poll interval while waiting. Default 25 ms. */
  pollMs?: number
  /** The request's fingerprint (fingerprint.ts). Without one, any record matches. */
  fingerprint?: string
  /** The key as the caller named it, for the mismatch error. Default: the store key. */
  name?: string
  /**
   * Where an earlier version kept this key (before keys were scoped per caller): when this call
   * claims `key` afresh, a record found there is honoured (legacy.ts).
   */
  legacyKey?: string
}

export interface RunOnceResult<T> {
  answer: T
  /** False when the answer is a stored one (nothing was run by this call). */
  ran: boolean
}

/** Attempts before giving up when other requests keep changing the record under us. */
const MAX_ROUNDS = 10

function checkSameRequest(found: IdempotencyRecord, opts: RunOnceOptions, key: string): void {
  if (found.fingerprint !== undefined && opts.fingerprint !== undefined && found.fingerprint !== opts.fingerprint) {
    throw codedError('IdempotencyMismatch', opts.name ?? key)
  }
}

export async function runOnce<T>(
  store: Idempotency, key: string, opts: RunOnceOptions, run: (msgId: string) => Promise<T>,
): Promise<RunOnceResult<T>> {
  const token = randomUUID()
  const pollMs = opts.pollMs ?? 25
  const fingerprint = opts.fingerprint
  const execute = async (mine: PendingRecord): Promise<RunOnceResult<T>> => {
    let answer: T
    try {
      answer = await run(mine.msgId)
    } catch (err) {
      // The next request with this key runs again at once, with the same msgId.
      await store.takeOver(key, token, { ...mine, at: 0 }).catch(() => {})
      throw err
    }
    const stored = await store.complete(key, { state: 'done', msgId: mine.msgId, at: Date.now(), answer: JSON.stringify(answer), ...(fingerprint && { fingerprint }) })
    // Someone who took over finished first: the first stored answer is the answer.
    if (stored?.state === 'done') return { answer: JSON.parse(stored.answer) as T, ran: true }
    return { answer, ran: true }
  }
  /** Waits for `found` (pending) to finish; resolves the record then, or the claim to take over. */
  const settle = async (at: string, found: IdempotencyRecord | undefined): Promise<IdempotencyRecord | undefined> => {
    while (found?.state === 'pending') {
      checkSameRequest(found, opts, key)
      const age = Date.now() - found.at
      if (found.at === 0 || age >= opts.waitMs) return found
      await sleep(Math.min(pollMs, opts.waitMs - age))
      found = await store.get(at)
    }
    if (found) checkSameRequest(found, opts, key)
    return found
  }

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const mine: PendingRecord = { state: 'pending', token, msgId: randomUUID(), at: Date.now(), ...(fingerprint && { fingerprint }) }
    let found: IdempotencyRecord | undefined = await store.claim(key, mine, opts.windowMs)
    if (found === undefined) {
      if (opts.legacyKey === undefined) return execute(mine)
      return honourLegacy(mine)
    }
    // Someone holds the key: wait for its answer, or take over a claim that is abandoned or stuck.
    for (found = await settle(key, found); found?.state === 'pending'; found = await settle(key, await store.get(key))) {
      const next: PendingRecord = { ...mine, msgId: found.msgId, at: Date.now() }
      if (await store.takeOver(key, found.token, next)) return execute(next)
    }
    if (found?.state === 'done') return { answer: JSON.parse(found.answer) as T, ran: false }
    // Gone (expired between calls): claim it afresh.
  }
  throw new Error(`idempotency key ${key}: the record kept changing; try again`)

  /**
   * This call holds `key`; an earlier version may have run the request under `legacyKey`. Its
   * answer is copied here and replayed; a run of it still pending is waited for, and one that
   * died is run again with its msgId (clients drop the copy). No legacy record: run as usual.
   */
  async function honourLegacy(mine: PendingRecord): Promise<RunOnceResult<T>> {
    const legacy = await settle(opts.legacyKey!, await store.get(opts.legacyKey!))
    if (legacy?.state === 'done') {
      const stored = await store.complete(key, { ...legacy, ...(fingerprint && { fingerprint }) })
      const answer = stored?.state === 'done' ? stored.answer : legacy.answer
      return { answer: JSON.parse(answer) as T, ran: false }
    }
    if (legacy === undefined) return execute(mine)
    const next: PendingRecord = { ...mine, msgId: legacy.msgId, at: Date.now() }
    return (await store.takeOver(key, token, next)) ? execute(next) : execute(mine)
  }
}
