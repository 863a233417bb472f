/**
 * A node's Events, with the sinks its settings ask for (README "Events to your backend"): the
 * webhook when `webhookUrl` is set, the Redis stream when `eventStream` is set. One per node;
 * node.ts hands it to the broker and the route, and closes it after both.
 */
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import type { Adapters } from '../adapters/index.ts'
import { Events, typeFilter } from './index.ts'
import { WebhookSink } from './webhook.ts'
import { RedisStreamSink } from './stream.ts'

export type EventSettings = Pick<Config,
  | 'webhookUrl' | 'webhookSecret' | 'webhookEvents' | 'webhookBatchSize' | 'webhookBatchMs' | 'webhookTimeoutMs'
  | 'webhookMaxAttempts' | 'webhookQueueMax' | 'eventStream' | 'eventStreamEvents' | 'eventStreamMaxLen'>

/** Test knobs over the webhook's fixed timings (lease, backoff, close wait). */
export interface EventTimings {
  leaseMs?: number
  retryBaseMs?: number
  retryCapMs?: number
  closeWaitMs?: number
}

/** Throws (at start, before anything listens) on a bad URL, an unknown event type, or a stream without Redis. */
export function createEvents(
  settings: EventSettings,
  adapters: Pick<Adapters, 'eventLog' | 'eventStream'>,
  logger: Logger,
  nodeId: string,
  timings: EventTimings = {},
): Events {
  // Everything is checked before any sink starts (a sink starts its timers when built).
  let url: URL | undefined
  if (settings.webhookUrl) {
    try { url = new URL(settings.webhookUrl) } catch { throw new Error(`--webhook-url: not a URL: "${settings.webhookUrl}"`) }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--webhook-url: expected an http:// or https:// URL, got "${settings.webhookUrl}"`)
  }
  const webhookAccepts = typeFilter(settings.webhookEvents)
  const streamAccepts = typeFilter(settings.eventStreamEvents)
  if (settings.eventStream && !adapters.eventStream) throw new Error(`--event-stream ${settings.eventStream} needs --redis: the events go to a Redis stream`)

  const events = new Events(nodeId)
  if (url) {
    if (!settings.webhookSecret) logger.warn('--webhook-url without --webhook-secret: webhook requests go unsigned')
    events.addSink(new WebhookSink({
      url: url.href, secret: settings.webhookSecret,
      batchSize: Math.max(1, settings.webhookBatchSize), batchMs: settings.webhookBatchMs,
      timeoutMs: settings.webhookTimeoutMs, maxAttempts: Math.max(1, settings.webhookMaxAttempts),
      queueMax: settings.webhookQueueMax, log: adapters.eventLog, nodeId,
      logger: logger.child({ sink: 'webhook' }), ...timings,
    }), webhookAccepts)
  }
  if (settings.eventStream && adapters.eventStream) {
    events.addSink(new RedisStreamSink({
      writer: adapters.eventStream, key: settings.eventStream, maxLen: settings.eventStreamMaxLen,
      bufferMax: settings.webhookQueueMax, logger: logger.child({ sink: 'stream' }), closeWaitMs: timings.closeWaitMs,
    }), streamAccepts)
  }
  return events
}
