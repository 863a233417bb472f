/**
 * The console chat client (`cim client --route http://host:8083 --name alice`), with the upstream
 * cim-client's commands: `:all`, `:olu`, `:q!`, `:info`, `:pu <prefix>`, `<userId>;;<text>` for a
 * private message and any other line for a group message.
 */
import readline from 'node:readline'
import { CimClient, type CimMessage, type UserInfo } from './index.ts'

export type ConsoleCommand =
  | { kind: 'empty' }
  | { kind: 'help' }
  | { kind: 'online' }
  | { kind: 'quit' }
  | { kind: 'info' }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'p2p'; receiveUserId: number; text: string }
  | { kind: 'group'; text: string }
  | { kind: 'invalid'; reason: string }

/** The commands `:all` prints (upstream SystemCommandEnum, minus the ones that need its chat log or AI mode). */
export const COMMANDS: ReadonlyArray<[string, string]> = [
  [':all', 'list all commands'],
  [':olu', 'list online users'],
  [':q!', 'quit (logs out through the route)'],
  [':info', 'show own userId, userName and broker'],
  [':pu <prefix>', 'online users whose name starts with <prefix>'],
  ['<userId>;;<text>', 'private message to <userId>'],
  ['<text>', 'group message to everyone online'],
]

/**
 * Parses one input line. As upstream: a line starting with ':' is a command (an unknown one prints
 * the list), `a;;b` is a private message to userId a. Unlike upstream, text after a second `;;` is
 * kept and a non-numeric receiver is reported instead of throwing.
 */
export function parseCommand(line: string): ConsoleCommand {
  const trimmed = line.trim()
  if (trimmed === '') return { kind: 'empty' }
  if (trimmed.startsWith(':')) {
    const [cmd, ...args] = trimmed.split(/\s+/)
    switch (cmd) {
      case ':olu': return { kind: 'online' }
      case ':q!': return { kind: 'quit' }
      case ':info': return { kind: 'info' }
      case ':pu':
        return args.length > 0 ? { kind: 'prefix', prefix: args[0] } : { kind: 'invalid', reason: 'usage: :pu <prefix>' }
      default: return { kind: 'help' }
    }
  }
  const sep = line.indexOf(';;')
  if (sep >= 0) {
    const target = line.slice(0, sep).trim()
    const text = line.slice(sep + 2)
    if (!/^\d+$/.test(target) || !Number.isSafeInteger(Number(target))) return { kind: 'invalid', reason: `"${target}" is not a userId (usage: <userId>;;<text>)` }
    if (text.trim() === '') return { kind: 'invalid', reason: 'empty message' }
    return { kind: 'p2p', receiveUserId: Number(target), text }
  }
  return { kind: 'group', text: line }
}

const pad = (n: number) => String(n).padStart(2, '0')

/** `[HH:mm:ss] name: text`, local time of the message's server timestamp (else now). */
export function formatIncoming(msg: Pick<CimMessage, 'text' | 'sendUserName' | 'sendUserId' | 'ts' | 'offline'>, now = Date.now()): string {
  const d = new Date(msg.ts ?? now)
  const name = msg.sendUserName || (msg.sendUserId ? String(msg.sendUserId) : 'nobody')
  return `[${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}] ${name}: ${msg.text}${msg.offline ? ' (offline)' : ''}`
}

/** Online users whose name starts with `prefix` (upstream builds a trie; a filter does the same). */
export function usersWithPrefix(users: UserInfo[], prefix: string): UserInfo[] {
  return users.filter((u) => u.userName.startsWith(prefix)).sort((a, b) => a.userName.localeCompare(b.userName))
}

export interface ConsoleOptions {
  routeUrl: string
  userName: string
  /** Default process.stdin. */
  input?: NodeJS.ReadableStream
  /** Default process.stdout. */
  output?: NodeJS.WritableStream
  /** Extra CimClient options (tests shorten heartbeats). */
  client?: Partial<ConstructorParameters<typeof CimClient>[0]>
}

/** Runs until `:q!`, the end of input, or a KICK that ends the session. Rejects when the first login fails. */
export async function runConsoleClient(opts: ConsoleOptions): Promise<void> {
  const input = opts.input ?? process.stdin
  const output = opts.output ?? process.stdout
  const say = (line: string) => { output.write(line + '\n') }

  const client = new CimClient({
    ...opts.client,
    routeUrl: opts.routeUrl,
    userName: opts.userName,
    onMessage: (m) => say(formatIncoming(m)),
  })
  const rl = readline.createInterface({ input, output, terminal: Boolean((output as { isTTY?: boolean }).isTTY) })
  // Take the iterator now: readline drops lines emitted before it exists, and piped input
  // (`printf ':olu\n:q!\n' | cim client ...`) arrives while we are still logging in.
  const lines = rl[Symbol.asyncIterator]()
  client.on('connected', (c) => say(`${c.reconnect ? 'reconnected' : 'connected'} as ${c.userName} (userId ${c.userId}) to ${c.brokerId ?? `${c.ip}:${c.cimServerPort}`}`))
  client.on('disconnected', (d) => say(`disconnected: ${d.reason}${d.willReconnect ? ' — reconnecting' : ''}`))
  client.on('kicked', (k) => { say(`kicked (${k.code}): ${k.reason}`); rl.close() })
  client.on('error', (err) => say(`error: ${err.message}`))

  try {
    await client.connect()
  } catch (err) {
    rl.close()
    client.close()
    throw err
  }
  say('type :all for commands')

  let quitting = false
  try {
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      const line = next.value
      const quit = await handle(parseCommand(line), client, say)
      if (quit) { quitting = true; break }
    }
  } finally {
    rl.close()
    // End of input counts as :q! too: leave no login state behind on the route.
    if (!quitting && client.state !== 'closed') await client.offline().catch(() => {})
    client.close()
  }
}

/** Executes one command; returns true to quit. */
async function handle(cmd: ConsoleCommand, client: CimClient, say: (line: string) => void): Promise<boolean> {
  try {
    switch (cmd.kind) {
      case 'empty':
        return false
      case 'help':
        for (const [c, d] of COMMANDS) say(`${c.padEnd(18)} ${d}`)
        return false
      case 'online':
        for (const u of await client.onlineUsers()) say(`userId=${u.userId} userName=${u.userName}`)
        return false
      case 'prefix':
        for (const u of usersWithPrefix(await client.onlineUsers(), cmd.prefix)) say(`userId=${u.userId} userName=${u.userName}`)
        return false
      case 'info': {
        const b = client.broker
        const where = b ? `${b.ip}:${b.cimServerPort}${b.brokerId ? ` (${b.brokerId})` : ''}` : 'none'
        say(`userId=${client.userId} userName=${client.userName} broker=${where} state=${client.state}`)
        return false
      }
      case 'quit':
        say('logging out...')
        await client.offline().catch((err: Error) => say(`error: ${err.message}`))
        return true
      case 'p2p': {
        const r = await client.sendP2P(cmd.receiveUserId, cmd.text)
        if (!r.delivered) say(`user ${cmd.receiveUserId} is offline; the message is stored for their next login`)
        return false
      }
      case 'group':
        await client.sendGroup(cmd.text)
        return false
      case 'invalid':
        say(cmd.reason)
        return false
    }
  } catch (err) {
    say(`error: ${(err as Error).message}`)
    return false
  }
}
