import { EventEmitter } from 'node:events'
import type { Bus, BusHandler, BusMessage, Unsubscribe } from './index.ts'

/**
 * In-process bus. Delivery is asynchronous (next microtask) like a real bus, so publishers never
 * run subscriber code inside their own call stack.
 */
export class MemoryBus implements Bus {
  private readonly emitter = new EventEmitter().setMaxListeners(0)

  async publish(channel: string, message: BusMessage): Promise<number> {
    const receivers = this.emitter.listenerCount(channel)
    if (receivers > 0) queueMicrotask(() => this.emitter.emit(channel, message))
    return receivers
  }

  async subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe> {
    this.emitter.on(channel, handler)
    return async () => { this.emitter.off(channel, handler) }
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners()
  }
}
