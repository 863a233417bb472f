#!/usr/bin/env -S node --import tsx
/**
 * An IoT device over MQTT: prints what the backend pushes to it (its own push topic and the
 * broadcast topic) and publishes telemetry on an uplink topic every few seconds.
 *
 *   npx tsx examples/device-simulator.ts --url mqtt://127.0.0.1:1883 --id sensor-1
 *   CIM_MQTT_URL=ws://127.0.0.1:9001 CIM_DEVICE_ID=sensor-1 npx tsx examples/device-simulator.ts
 *
 * Then push to it:  curl -XPOST localhost:8083/v1/push/devices/sensor-1 -H 'content-type: application/json' -d '{"payload":"on"}'
 *
 * The broker subscribes every device to its push topic and the broadcast topic server-side, so a
 * device that never subscribes still gets pushes; the simulator subscribes anyway (the broker
 * allows a device its own push topic) so it also works against a plain MQTT broker.
 */
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import mqtt, { type MqttClient } from 'mqtt'
import { pushTopicOf } from '../adapters/mqtt/topics.ts'

export interface DeviceSimulatorOptions {
  /** Broker URL: mqtt://host:1883 or ws://host:9001. Default mqtt://127.0.0.1:1883 (env CIM_MQTT_URL). */
  url: string
  /** MQTT client id = device id. Default sim-<random> (env CIM_DEVICE_ID). */
  id: string
  /** Telemetry period in ms; 0 = none. Default 5,000 (env CIM_UPLINK_INTERVAL_MS). */
  intervalMs: number
  /** Default devices/{deviceId}/push (the broker's default). */
  pushTopic: string
  /** Default devices/broadcast. */
  broadcastTopic: string
  /** Telemetry goes to `<prefix><id>/telemetry`. Default uplink/. */
  uplinkPrefix: string
  username?: string
  password?: string
  /** Where lines go. Default console.log. */
  print?: (line: string) => void
}

export interface DeviceSimulator {
  client: MqttClient
  stop(): Promise<void>
}

const pad = (n: number) => String(n).padStart(2, '0')
const clock = (d = new Date()) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`

/** Text as text; anything with control bytes (a base64 push, say) as hex. */
function show(payload: Buffer): string {
  const text = payload.toString('utf8')
  return /[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text) ? `<${payload.length} bytes: ${payload.toString('hex')}>` : text
}

/** Connects the device and starts its telemetry loop. */
export function startDeviceSimulator(o: DeviceSimulatorOptions): DeviceSimulator {
  const print = o.print ?? ((line: string) => console.log(line))
  const pushTopic = pushTopicOf(o.pushTopic, o.id)
  const uplinkTopic = `${o.uplinkPrefix}${o.id}/telemetry`
  // aedes 1.x speaks MQTT 3.1.1; clean: false keeps QoS 1 pushes queued while we are away.
  const client = mqtt.connect(o.url, {
    clientId: o.id, protocolVersion: 4, clean: false, reconnectPeriod: 1_000,
    // MQTT 3.1.1 allows a password only with a user name (MQTT-3.1.2-22): the device id serves.
    username: o.username ?? (o.password !== undefined ? o.id : undefined), password: o.password,
  })

  client.on('connect', (ack) => {
    print(`[${clock()}] connected to ${o.url} as ${o.id}${ack.sessionPresent ? ' (session resumed)' : ''}`)
    client.subscribe([pushTopic, o.broadcastTopic], { qos: 1 }, (err) => {
      if (err) print(`subscribe failed: ${err.message}`)
    })
  })
  client.on('message', (topic, payload) => {
    const kind = topic === o.broadcastTopic ? 'broadcast' : topic === pushTopic ? 'push' : topic
    print(`[${clock()}] ${kind}: ${show(payload)}`)
  })
  client.on('reconnect', () => print(`[${clock()}] reconnecting...`))
  client.on('error', (err) => print(`[${clock()}] error: ${err.message}`))

  let n = 0
  const timer = o.intervalMs > 0
    ? setInterval(() => {
      if (!client.connected) return
      const reading = {
        deviceId: o.id, n: ++n, ts: Date.now(),
        temperature: Math.round((20 + 5 * Math.sin(n / 5) + Math.random()) * 10) / 10,
        battery: Math.max(0, 100 - n * 0.1),
      }
      client.publish(uplinkTopic, JSON.stringify(reading), { qos: 1 })
      print(`[${clock()}] uplink ${uplinkTopic}: ${JSON.stringify(reading)}`)
    }, o.intervalMs)
    : undefined

  return {
    client,
    async stop() {
      if (timer) clearInterval(timer)
      await client.endAsync()
    },
  }
}

function optionsFromArgs(argv: string[], env: NodeJS.ProcessEnv): DeviceSimulatorOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      id: { type: 'string' },
      interval: { type: 'string' },
      'push-topic': { type: 'string' },
      'broadcast-topic': { type: 'string' },
      'uplink-prefix': { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(`usage: device-simulator [--url mqtt://127.0.0.1:1883] [--id sensor-1] [--interval 5000]
       [--push-topic devices/{deviceId}/push] [--broadcast-topic devices/broadcast] [--uplink-prefix uplink/]
       [--username u --password p]
env: CIM_MQTT_URL, CIM_DEVICE_ID, CIM_UPLINK_INTERVAL_MS, CIM_DEVICE_PUSH_TOPIC, CIM_BROADCAST_TOPIC,
     CIM_UPLINK_PREFIX, CIM_MQTT_USERNAME, CIM_MQTT_PASSWORD`)
    process.exit(0)
  }
  const intervalMs = Number(values.interval ?? env.CIM_UPLINK_INTERVAL_MS ?? 5_000)
  if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new Error(`--interval: expected milliseconds, got ${values.interval}`)
  return {
    url: values.url ?? env.CIM_MQTT_URL ?? 'mqtt://127.0.0.1:1883',
    id: values.id ?? env.CIM_DEVICE_ID ?? `sim-${Math.random().toString(36).slice(2, 8)}`,
    intervalMs,
    pushTopic: values['push-topic'] ?? env.CIM_DEVICE_PUSH_TOPIC ?? 'devices/{deviceId}/push',
    broadcastTopic: values['broadcast-topic'] ?? env.CIM_BROADCAST_TOPIC ?? 'devices/broadcast',
    uplinkPrefix: values['uplink-prefix'] ?? env.CIM_UPLINK_PREFIX ?? 'uplink/',
    username: values.username ?? env.CIM_MQTT_USERNAME,
    password: values.password ?? env.CIM_MQTT_PASSWORD,
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sim = startDeviceSimulator(optionsFromArgs(process.argv.slice(2), process.env))
  const stop = () => { void sim.stop().finally(() => process.exit(0)) }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
