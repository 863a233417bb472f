/**
 * The MQTT node's listeners: MQTT over TCP and MQTT over WebSocket (ws@8 and
 * createWebSocketStream; aedes-server-factory pulls in old ws versions), and with a TLS
 * certificate also MQTT over TLS and over secure WebSocket (docs/security.md, TLS). All disable
 * Nagle: measured on CI-like machines, a QoS 1 round trip through aedes takes ~44 ms with Nagle on
 * and ~0.2 ms with noDelay. Both WebSocket listeners share one upgrade path (and so its checks).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server as HttpServer } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import type { Duplex } from 'node:stream'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Logger } from 'pino'
import { TLS_HANDSHAKE_TIMEOUT_MS, type TlsWatcher } from '../../security/tls.ts'
import { originAllowed, refuseUpgrade } from './origins.ts'

/** Takes over one MQTT byte stream (aedes.handle). */
export type MqttStreamHandler = (stream: Duplex, req?: IncomingMessage) => void

export interface MqttListenOptions {
  host: string
  /** TCP port; 0 = any free port. */
  mqttPort: number
  /** WebSocket port; 0 = any free port. */
  wsPort: number
  /** Also listen with TLS (the watcher keeps the certificate current). */
  tls?: MqttTlsListenOptions
  /** Connections each listener queues before accepting them (config.listenBacklog). Default 4096. */
  backlog?: number
}

export interface MqttTlsListenOptions {
  watcher: TlsWatcher
  /** MQTT over TLS port; 0 = any free port. */
  mqttsPort: number
  /** MQTT over secure WebSocket port; 0 = any free port. */
  wssPort: number
}

export interface MqttBoundPorts {
  mqttPort: number
  wsPort: number
  /** Present when listening with TLS. */
  mqttsPort?: number
  wssPort?: number
}

export class MqttListeners {
  private readonly tcp: NetServer
  private readonly http: HttpServer
  private readonly wss: WebSocketServer
  /** The TLS listeners, created by listen() when it is given a certificate. */
  private mqtts: TlsServer | undefined
  private https: HttpsServer | undefined
  /** Every raw socket of every server, so close() can end those aedes does not know of yet. */
  private readonly sockets = new Set<Socket>()
  private accepting = false
  /** Settle when each server has fully closed (its 'close' event); resolved while not listening. */
  private tcpClosed: Promise<void> = Promise.resolve()
  private httpClosed: Promise<void> = Promise.resolve()
  private tlsClosed: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly handle: MqttStreamHandler,
    private readonly logger: Logger,
    /** WebSocket Origin allow-list (origins.ts); undefined: any Origin. */
    private readonly allowedOrigins?: ReadonlySet<string>,
    /**
     * Largest WebSocket message: ws buffers a whole message before the MQTT parser sees a byte,
     * so the packet cap (limits.ts) must hold here too. Default: ws' own (100 MiB).
     */
    maxWsMessageBytes?: number,
  ) {
    this.tcp = createNetServer({ noDelay: true }, (socket) => {
      this.track(socket)
      handle(socket)
    })
    this.http = createHttpServer({ noDelay: true }, upgradeRequired)
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false, ...(maxWsMessageBytes && { maxPayload: maxWsMessageBytes }) })
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head))
    this.tcp.on('error', (err) => logger.error({ err }, 'mqtt tcp listener error'))
    this.http.on('error', (err) => logger.error({ err }, 'mqtt websocket listener error'))
  }

  async listen(opts: MqttListenOptions): Promise<MqttBoundPorts> {
    try {
      const mqttPort = await listenOn(this.tcp, opts.host, opts.mqttPort, opts.backlog)
      this.tcpClosed = closedEvent(this.tcp)
      const wsPort = await listenOn(this.http, opts.host, opts.wsPort, opts.backlog)
      this.httpClosed = closedEvent(this.http)
      const ports: MqttBoundPorts = { mqttPort, wsPort, ...(opts.tls && await this.listenTls(opts.host, opts.tls, opts.backlog)) }
      this.accepting = true
      this.logger.info(ports, 'mqtt listening')
      return ports
    } catch (err) {
      this.stopAccepting()
      throw err
    }
  }

  /**
   * Stops listening; established connections stay. `server.close()` stops accepting at once, but
   * its callback waits for every connection to end, so it is not awaited here.
   */
  stopAccepting(): void {
    this.accepting = false
    if (this.tcp.listening) this.tcp.close()
    if (this.http.listening) this.http.close()
    if (this.mqtts?.listening) this.mqtts.close()
    if (this.https?.listening) this.https.close()
  }

  /** Stops listening and destroys every remaining socket. Resolves when both servers closed. */
  async close(): Promise<void> {
    this.stopAccepting()
    for (const socket of this.sockets) socket.destroy()
    this.http.closeAllConnections()
    this.https?.closeAllConnections()
    await Promise.all([this.tcpClosed, this.httpClosed, this.tlsClosed])
  }

  /** One WebSocket upgrade, plain or TLS: both WebSocket listeners go through here. */
  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (!this.accepting) return void socket.destroy()
    if (!originAllowed(this.allowedOrigins, req)) {
      this.logger.info({ origin: req.headers.origin, remoteAddress: socket.remoteAddress }, 'mqtt websocket origin refused')
      return refuseUpgrade(socket)
    }
    socket.setNoDelay(true)
    this.track(socket)
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws)
      this.handle(stream, req)
    })
  }

  /** MQTT over TLS and over secure WebSocket, registered with the watcher for certificate reloads. */
  private async listenTls(host: string, tls: MqttTlsListenOptions, backlog?: number): Promise<{ mqttsPort: number; wssPort: number }> {
    const secure = { ...tls.watcher.options, noDelay: true, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }
    const mqtts = createTlsServer(secure, (socket) => {
      this.track(socket)
      this.handle(socket)
    })
    const https = createHttpsServer(secure, upgradeRequired)
    https.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head))
    this.mqtts = mqtts
    this.https = https
    for (const server of [mqtts, https]) {
      // The raw socket, before the handshake: close() must end handshakes that never finish.
      server.on('connection', (raw: Socket) => this.track(raw))
      server.on('tlsClientError', (err: Error) => this.logger.debug({ err: err.message }, 'mqtt tls handshake failed'))
      server.on('error', (err: Error) => this.logger.error({ err }, 'mqtt tls listener error'))
      tls.watcher.add(server)
    }
    const mqttsPort = await listenOn(mqtts, host, tls.mqttsPort, backlog)
    const mqttsClosed = closedEvent(mqtts)
    const wssPort = await listenOn(https, host, tls.wssPort, backlog)
    this.tlsClosed = Promise.all([mqttsClosed, closedEvent(https)])
    return { mqttsPort, wssPort }
  }

  private track(socket: Socket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }
}

/** Plain HTTP requests get 426; only upgrades speak MQTT. */
function upgradeRequired(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('MQTT over WebSocket only\n')
}

function listenOn(server: NetServer | HttpServer, host: string, port: number, backlog = 4096): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err)
    server.once('error', onError)
    server.listen({ port, host, backlog }, () => {
      server.off('error', onError)
      const addr = server.address()
      resolve(typeof addr === 'object' && addr ? addr.port : port)
    })
  })
}

/** A server emits 'close' once it stopped listening AND its last connection ended. */
function closedEvent(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.once('close', () => resolve()))
}
