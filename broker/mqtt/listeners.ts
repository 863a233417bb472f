/**
 * The MQTT node's two listeners: MQTT over TCP and MQTT over WebSocket (ws@8 and
 * createWebSocketStream; aedes-server-factory pulls in old ws versions). Both disable Nagle:
 * measured on CI-like machines, a QoS 1 round trip through aedes takes ~44 ms with Nagle on and
 * ~0.2 ms with noDelay.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Logger } from 'pino'

/** Takes over one MQTT byte stream (aedes.handle). */
export type MqttStreamHandler = (stream: Duplex, req?: IncomingMessage) => void

export interface MqttListenOptions {
  host: string
  /** TCP port; 0 = any free port. */
  mqttPort: number
  /** WebSocket port; 0 = any free port. */
  wsPort: number
}

export class MqttListeners {
  private readonly tcp: NetServer
  private readonly http: HttpServer
  private readonly wss: WebSocketServer
  /** Every raw socket of both servers, so close() can end those aedes does not know of yet. */
  private readonly sockets = new Set<Socket>()
  private accepting = false
  /** Settle when each server has fully closed (its 'close' event); resolved while not listening. */
  private tcpClosed: Promise<void> = Promise.resolve()
  private httpClosed: Promise<void> = Promise.resolve()

  constructor(handle: MqttStreamHandler, private readonly logger: Logger) {
    this.tcp = createNetServer({ noDelay: true }, (socket) => {
      this.track(socket)
      handle(socket)
    })
    // Plain HTTP requests get 426; only upgrades speak MQTT.
    this.http = createHttpServer({ noDelay: true }, (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('MQTT over WebSocket only\n')
    })
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false })
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (!this.accepting) return socket.destroy()
      socket.setNoDelay(true)
      this.track(socket)
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws)
        handle(stream, req)
      })
    })
    this.tcp.on('error', (err) => logger.error({ err }, 'mqtt tcp listener error'))
    this.http.on('error', (err) => logger.error({ err }, 'mqtt websocket listener error'))
  }

  async listen(opts: MqttListenOptions): Promise<{ mqttPort: number; wsPort: number }> {
    try {
      const mqttPort = await listenOn(this.tcp, opts.host, opts.mqttPort)
      this.tcpClosed = closedEvent(this.tcp)
      const wsPort = await listenOn(this.http, opts.host, opts.wsPort)
      this.httpClosed = closedEvent(this.http)
      this.accepting = true
      this.logger.info({ mqttPort, wsPort }, 'mqtt listening')
      return { mqttPort, wsPort }
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
  }

  /** Stops listening and destroys every remaining socket. Resolves when both servers closed. */
  async close(): Promise<void> {
    this.stopAccepting()
    for (const socket of this.sockets) socket.destroy()
    this.http.closeAllConnections()
    await Promise.all([this.tcpClosed, this.httpClosed])
  }

  private track(socket: Socket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }
}

function listenOn(server: NetServer | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err)
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      const addr = server.address()
      resolve(typeof addr === 'object' && addr ? addr.port : port)
    })
  })
}

/** A server emits 'close' once it stopped listening AND its last connection ended. */
function closedEvent(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.once('close', () => resolve()))
}
