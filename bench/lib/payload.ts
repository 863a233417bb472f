/** Message contents shared by our server and the baselines, so both send frames of the same size. */
import { setTimeout as sleep } from 'node:timers/promises'

/** Sender metadata every push carries (upstream clients read sendUserId / sendUserName). */
export const SENDER = { sendUserId: '1747309836375', sendUserName: 'bench' }

/** A ~40-byte broadcast text, different for every message. */
export function broadcastText(i: number): string {
  return `broadcast #${String(i).padStart(8, '0')} from the bench`
}

/** Synthetic accounts for the baselines (ids of the same magnitude as real ones: ≈1.7e12). */
export function syntheticUsers(prefix: string, count: number): Array<{ id: number; name: string }> {
  const base = 1_747_309_836_375
  return Array.from({ length: count }, (_, i) => ({ id: base + i, name: `${prefix}${i}` }))
}

/** Reads RSS after forcing collection (the process must run with --expose-gc). */
export async function memoryAfterGc(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with --expose-gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await sleep(50)
  }
  return process.memoryUsage()
}
