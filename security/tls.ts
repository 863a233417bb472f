/**
 * TLS certificates for every listener (MQTT over TLS, MQTT over secure WebSocket, CIM over TLS,
 * HTTPS on the route; docs/security.md, TLS). One `TlsWatcher` per node part holds the current
 * certificate and key, read from the PEM files `--tls-cert` / `--tls-key`, and hands them to each
 * TLS server registered with it. Certificates rotate, so the files are read again on SIGHUP and
 * when they change (polled: fs.watch loses a file that is replaced by rename, which is how
 * certbot and Kubernetes secrets rotate). A reload calls `setSecureContext` on every server: new
 * handshakes get the new certificate, established connections keep theirs. A new pair that does
 * not load (unreadable, not PEM, key not matching the certificate, half-written) is logged and the
 * old one kept; a reload never throws.
 */
import { readFileSync, unwatchFile, watchFile, type StatWatcher, type Stats } from 'node:fs'
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls'
import type { Logger } from 'pino'

/**
 * A TLS server drops a connection whose handshake has not finished after this long (Node's default
 * is 120 s: a cheap way to hold sockets open).
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000

export interface TlsPaths {
  /** PEM certificate, optionally followed by its chain. */
  cert: string
  /** PEM private key of `cert`. */
  key: string
}

/** The settings that turn TLS on; both or neither (a half configuration is refused at start). */
export function tlsPathsOf(config: { tlsCert: string; tlsKey: string }): TlsPaths | undefined {
  if (config.tlsCert === '' && config.tlsKey === '') return undefined
  if (config.tlsCert === '' || config.tlsKey === '') {
    throw new Error('TLS needs both --tls-cert and --tls-key (CIM_TLS_CERT, CIM_TLS_KEY)')
  }
  return { cert: config.tlsCert, key: config.tlsKey }
}

/**
 * Reads the pair and checks that it makes a secure context (PEM parses, the key matches the
 * certificate). Throws with the file names on failure.
 */
export function loadTls(paths: TlsPaths): SecureContextOptions {
  const options: SecureContextOptions = { cert: readFileSync(paths.cert), key: readFileSync(paths.key) }
  try {
    createSecureContext(options)
  } catch (err) {
    throw new Error(`TLS certificate ${paths.cert} / key ${paths.key} do not load: ${(err as Error).message}`)
  }
  return options
}

/** What the watcher logs through: a pino logger, or fastify's `app.log`. */
export type TlsLogger = Pick<Logger, 'info' | 'error'>

export interface WatchTlsOptions {
  logger: TlsLogger
  /** Called after each successful reload with the new options. */
  onReload?: (options: SecureContextOptions) => void
  /** How often the files' stat is polled. Default 5,000 ms. */
  pollMs?: number
  /** Quiet time after a change before reading: a rotation writes two files. Default 500 ms. */
  debounceMs?: number
}

export class TlsWatcher {
  private current: SecureContextOptions
  private readonly servers = new Set<TlsServer>()
  private readonly files: string[]
  private debounce: NodeJS.Timeout | undefined
  private closed = false
  private readonly onSighup = () => {
    this.opts.logger.info('SIGHUP: reloading the TLS certificate')
    this.reload()
  }

  private readonly onFileChange = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return
    clearTimeout(this.debounce)
    this.debounce = setTimeout(() => this.reload(), this.opts.debounceMs ?? 500)
    this.debounce.unref()
  }

  /** Loads the pair at once (throws if it does not load: a node must not start without it). */
  constructor(readonly paths: TlsPaths, private readonly opts: WatchTlsOptions) {
    this.current = loadTls(paths)
    this.files = paths.cert === paths.key ? [paths.cert] : [paths.cert, paths.key]
    const interval = opts.pollMs ?? 5_000
    for (const file of this.files) {
      const w: StatWatcher = watchFile(file, { interval, persistent: false }, this.onFileChange)
      w.unref()
    }
    process.on('SIGHUP', this.onSighup)
  }

  /** The certificate and key in use: the options for a server created now. */
  get options(): SecureContextOptions {
    return this.current
  }

  /**
   * Keeps `server`'s certificate current from now on. A server built from another read of the
   * files (`builtWith`) than the watcher holds gets the watcher's pair now.
   */
  add(server: TlsServer, builtWith: SecureContextOptions = this.current): void {
    if (builtWith !== this.current) server.setSecureContext(this.current)
    this.servers.add(server)
  }

  /**
   * Reads the files again. On success every registered server gets the new context (new
   * connections only) and true is returned; on failure the old pair stays and false is returned.
   */
  reload(): boolean {
    if (this.closed) return false
    let next: SecureContextOptions
    try {
      next = loadTls(this.paths)
    } catch (err) {
      this.opts.logger.error({ err: (err as Error).message }, 'TLS reload failed; keeping the current certificate')
      return false
    }
    for (const server of this.servers) server.setSecureContext(next)
    this.current = next
    this.opts.logger.info({ cert: this.paths.cert, servers: this.servers.size }, 'TLS certificate reloaded')
    this.opts.onReload?.(next)
    return true
  }

  /** Stops watching (servers keep their last context). */
  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.debounce)
    process.off('SIGHUP', this.onSighup)
    for (const file of this.files) unwatchFile(file, this.onFileChange)
    this.servers.clear()
  }
}

/** Loads the pair (throws if it does not load) and reloads it on SIGHUP and on file change. */
export function watchTls(paths: TlsPaths, opts: WatchTlsOptions): TlsWatcher {
  return new TlsWatcher(paths, opts)
}
