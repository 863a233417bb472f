/**
 * Brokers living in this process, found by the bus object they serve. A route that shares that
 * bus object (`cim start`, or any node running both roles) calls such a broker's handler table
 * directly instead of publishing a request and waiting for the reply: the hop costs a function
 * call, not two bus messages, a correlation entry and a timer (docs/architecture.md, "The push
 * walk"). Anything else (another process, a broker stopped or not yet started) goes over the bus.
 *
 * The request object is handed over as it is, as the memory bus does: handlers never mutate it.
 */
import type { Bus } from '../../adapters/bus/index.ts'
import type { BrokerHandlers } from './index.ts'

const byBus = new WeakMap<Bus, Map<string, BrokerHandlers>>()

/** Makes `handlers` reachable for clients of `bus` in this process; returns the undo. */
export function registerLocalBroker(bus: Bus, brokerId: string, handlers: BrokerHandlers): () => void {
  let brokers = byBus.get(bus)
  if (!brokers) byBus.set(bus, (brokers = new Map()))
  brokers.set(brokerId, handlers)
  return () => {
    if (brokers.get(brokerId) === handlers) brokers.delete(brokerId)
  }
}

/** The handler table of broker `brokerId` if it runs in this process on `bus`. */
export function localBroker(bus: Bus, brokerId: string): BrokerHandlers | undefined {
  return byBus.get(bus)?.get(brokerId)
}
