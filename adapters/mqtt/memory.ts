import { createRequire } from 'node:module'
import mqemitter from 'mqemitter'
import type { MqttBackend, RetainedCaps, RetainedLedger, RetainedRefusal } from './index.ts'

// aedes-persistence is CommonJS whose type declarations claim an ESM default export; load it the
// CommonJS way so the call is typed and works.
const require = createRequire(import.meta.url)
const memoryPersistence = require('aedes-persistence') as () => unknown

/** In-process mq and in-memory persistence: the defaults aedes itself uses. */
export function memoryMqttBackend(): MqttBackend {
  return { mq: mqemitter(), persistence: memoryPersistence(), retained: new MemoryRetainedLedger() }
}

/** The retained tally of one in-memory persistence: exact, since nothing else writes to it. */
export class MemoryRetainedLedger implements RetainedLedger {
  private readonly sizes = new Map<string, number>()
  private total = 0

  async admit(topic: string, bytes: number, caps: RetainedCaps): Promise<RetainedRefusal | undefined> {
    const old = this.sizes.get(topic)
    if (bytes === 0) {
      if (old !== undefined) this.sizes.delete(topic)
      this.total -= old ?? 0
      return undefined
    }
    if (old === undefined && this.sizes.size + 1 > caps.maxCount) return 'count'
    if (this.total - (old ?? 0) + bytes > caps.maxBytes) return 'bytes'
    this.sizes.set(topic, bytes)
    this.total += bytes - (old ?? 0)
    return undefined
  }

  async tally(): Promise<{ count: number; bytes: number }> {
    return { count: this.sizes.size, bytes: this.total }
  }
}
