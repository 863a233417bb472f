/**
 * Child process: the MQTT baseline — a bare aedes 1.2 with default options (in-memory mq and
 * persistence) on a net server. noDelay is set as on our MQTT listener (docs/architecture.md,
 * Conventions), so the comparison is aedes + our wiring vs aedes alone, not two socket
 * configurations.
 */
import net from 'node:net'
import { Aedes } from 'aedes'
import { serve } from '../lib/ipc.ts'

const aedes = await Aedes.createBroker()
const server = net.createServer({ noDelay: true }, (socket) => aedes.handle(socket))

serve({
  start() {
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
      resolve({ mqttPort: (server.address() as net.AddressInfo).port, pid: process.pid })
    }))
  },
  cpu() {
    return process.cpuUsage()
  },
  async close() {
    await new Promise<void>((r) => aedes.close(() => r()))
    server.close()
  },
})
