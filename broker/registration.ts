/**
 * The broker's entry in discovery and its heartbeat. Registered after every server listens;
 * removed first on shutdown (docs/architecture.md, Lifecycle of a broker). Every
 * presenceTtlMs/3 the heartbeat extends the presence TTLs of the users and devices connected here
 * (so a crashed broker's entries expire instead of blocking later logins) and updates the
 * connection count routes balance on.
 *
 * The broker is the source of truth for what is connected to it: the heartbeat writes back any of
 * its entries the store lost, and when the store's connection comes back (Redis restarted, maybe
 * empty) it does so at once instead of at the next beat (README "Durable data").
 */
import type { Logger } from 'pino'
import type { BrokerInfo, Discovery, Registration } from '../adapters/discovery/index.ts'
import type { Presence, PresenceEntry } from '../adapters/presence/index.ts'

export interface RegistrationOptions {
  discovery: Discovery
  presence: Presence
  logger: Logger
  /** Presence TTL; the heartbeat runs at a third of it. */
  presenceTtlMs: number
  /** The presence entries of the users logged in here, as claimed at their logins. */
  userEntries: () => PresenceEntry[]
  /** The presence entries of the MQTT clients connected here. */
  deviceEntries: () => PresenceEntry[]
  connections: () => number
}

export class BrokerRegistration {
  private registration: Registration | undefined
  private timer: NodeJS.Timeout | undefined
  private info: BrokerInfo | undefined
  private beating: Promise<void> | undefined
  /** The store reconnected during a beat: one more beat follows it, with what is held now. */
  private healAgain = false
  private stopHealing: (() => void) | undefined

  constructor(private readonly opts: RegistrationOptions) {}

  async register(info: BrokerInfo): Promise<void> {
    this.info = info
    this.registration = await this.opts.discovery.register(info)
    const every = Math.max(10, Math.floor(this.opts.presenceTtlMs / 3))
    this.timer = setInterval(() => { void this.heartbeat() }, every).unref()
    this.stopHealing = this.opts.presence.onReconnect(() => {
      this.healAgain = true
      void this.heartbeat()
    })
  }

  /**
   * Removes the presence entries (users and devices) a previous run of broker `id` left: killed and
   * restarted before its ZooKeeper session expired, it takes over its old registration, so routes
   * never see it leave and its entries would read as live logins until their TTL ran out. Called
   * before this run takes logins. No live broker can hold this id: the default id names the
   * host:ports this run has just bound (the same reasoning that lets discovery replace the old
   * znode), and a --broker-id must be unique in the cluster.
   */
  async clearPreviousRun(id: string): Promise<void> {
    const { presence, logger } = this.opts
    const [users, devices] = await Promise.all([presence.users.removeBroker(id), presence.devices.removeBroker(id)])
    if (users + devices > 0) logger.info({ brokerId: id, users, devices }, 'cleared the presence entries of a previous run of this broker')
  }

  /** One heartbeat (also callable directly, e.g. by tests). Never throws; failures are logged. */
  heartbeat(): Promise<void> {
    if (this.beating) return this.beating
    this.beating = (async () => {
      do {
        this.healAgain = false
        await this.beat()
      } while (this.healAgain && this.registration)
    })().finally(() => { this.beating = undefined })
    return this.beating
  }

  private async beat(): Promise<void> {
    const { presence, presenceTtlMs: ttl, logger } = this.opts
    const id = this.info?.id
    if (!id || !this.registration) return
    try {
      const started = Date.now()
      const [users, devices] = await Promise.all([
        presence.users.refresh(id, this.opts.userEntries(), ttl),
        presence.devices.refresh(id, this.opts.deviceEntries(), ttl),
        this.registration.update({ connections: this.opts.connections() }),
      ])
      if (users + devices > 0) {
        logger.info({ brokerId: id, users, devices, ms: Date.now() - started }, 'presence entries the store had lost were written again')
      }
    } catch (err) {
      logger.warn({ err }, 'broker heartbeat failed')
    }
  }

  /** Stops the heartbeat and removes the entry. Idempotent. */
  async deregister(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.stopHealing?.()
    this.stopHealing = undefined
    const r = this.registration
    this.registration = undefined
    if (!r) return
    await this.beating
    try {
      await r.deregister()
    } catch (err) {
      this.opts.logger.warn({ err }, 'deregistration failed (the entry expires with the session)')
    }
  }
}
