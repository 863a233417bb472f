#!/usr/bin/env -S node --import tsx
/**
 * The `cim` command. The only place (with examples/) that listens on configured ports.
 *   cim start   route + one broker in one process, memory adapters (the default `npm start`)
 *   cim broker  one broker node (Redis + ZooKeeper when configured)
 *   cim route   one stateless route node
 *   cim client  the console chat client
 */
import { Command, Option } from 'commander'
import { defaults, readConfigFile, resolveConfig, settings, type Config } from './config.ts'
import { createLogger } from './logger.ts'
import { createAdapters } from './adapters/index.ts'
import { createBroker } from './broker/index.ts'
import { buildApp } from './route/app.ts'
import { runConsoleClient } from './client/console.ts'

function addSettings(cmd: Command): Command {
  for (const s of settings) {
    const flag = `${s.flag} <${s.kind === 'number' ? 'n' : 'value'}>`
    const def = defaults[s.key] === '' ? '' : ` (default: ${defaults[s.key]})`
    const opt = new Option(flag, `${s.description}${def}; env ${s.env}`)
    if (s.choices) opt.choices(s.choices as string[])
    cmd.addOption(opt)
  }
  cmd.option('--config <file>', 'JSON file of settings (keys as in config.ts); flags and env override it; env CIM_CONFIG')
  return cmd
}

/** Commander gives camelCase option names that match Config keys except these. */
function toConfig(opts: Record<string, unknown>): Config {
  const overrides: Record<string, unknown> = {}
  for (const s of settings) {
    const name = s.flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    if (opts[name] !== undefined) overrides[s.key] = opts[name]
  }
  const file = (opts.config as string | undefined) ?? process.env.CIM_CONFIG
  return resolveConfig(overrides as Partial<Config>, process.env, file ? readConfigFile(file) : {})
}

async function runNodes(config: Config, roles: { broker: boolean; route: boolean }): Promise<void> {
  const logger = createLogger(config.logLevel)
  // Connection trouble the adapters retry by themselves (Redis reconnects, an expired ZooKeeper
  // session being replaced) is logged, so an operator can tell why a node went quiet.
  const adapters = await createAdapters(config, { onError: (err) => logger.warn({ err: err.message }, 'backend connection') })
  const broker = roles.broker ? createBroker({ config, adapters, logger: logger.child({ part: 'broker' }) }) : undefined
  const app = roles.route ? await buildApp({ config, adapters, logger: logger.child({ part: 'route' }) }) : undefined

  if (broker) {
    const ports = await broker.listen()
    logger.info({ id: broker.id, ...ports }, `broker ${broker.id}: CIM TCP :${ports.cimPort}, MQTT :${ports.mqttPort}, MQTT/WS :${ports.wsPort}, HTTP :${ports.httpPort}`)
  }
  if (app) {
    await app.listen({ host: config.host, port: config.routePort })
    logger.info(`route: REST http://${config.advertiseHost}:${config.routePort}  docs http://${config.advertiseHost}:${config.routePort}/docs`)
  }

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: deregister, stop accepting, drain, close')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    await broker?.close()
    await app?.close()
    await adapters.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

const program = new Command('cim')
  .description('CIM Relay: push notifications and IoT relay (CIM TCP, MQTT, REST)')
  .showHelpAfterError()

addSettings(program.command('start').description('route + one broker in one process with memory adapters (no external services)'))
  .action((opts) => runNodes(toConfig(opts), { broker: true, route: true }))

addSettings(program.command('broker').description('one broker node: CIM TCP, MQTT, MQTT/WS, HTTP health; Redis + ZooKeeper via --redis/--zookeeper'))
  .action((opts) => runNodes(toConfig(opts), { broker: true, route: false }))

addSettings(program.command('route').description('one stateless route node (REST API, OpenAPI at /docs)'))
  .action((opts) => runNodes(toConfig(opts), { broker: false, route: true }))

program.command('client')
  .description('console chat client (upstream cim-client commands: :all :olu :q! :info :pu <prefix>, <userId>;;<text>)')
  .requiredOption('--name <userName>', 'user name (registered on first use)')
  .option('--route <url>', 'route URL', process.env.CIM_ROUTE_URL ?? `http://127.0.0.1:${defaults.routePort}`)
  .action((opts: { name: string; route: string }) => runConsoleClient({ routeUrl: opts.route, userName: opts.name }))

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`cim: ${err.message}`)
  process.exit(1)
})
