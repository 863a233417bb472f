/**
 * The tests' one home for waiting: `sleep` for a fixed pause (Node's own timers/promises) and
 * `eventually` for polling until something holds. Test files and contract suites import these
 * instead of writing their own loops.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export { sleep }

/**
 * Polls `check` every `everyMs` until it returns truthy without throwing, and returns that value.
 * After `ms` it throws the check's last error, or a timeout naming `what`.
 */
export async function eventually<T>(check: () => T | Promise<T>, ms = 3000, what = 'condition', everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
    } catch (err) { last = err }
    if (Date.now() > deadline) throw last instanceof Error ? last : new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}
