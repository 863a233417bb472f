/**
 * Authentication and authorisation as hooks with defaults (the aedes model): CIM TCP logins and
 * MQTT connections go through the same object, so one policy covers both protocols.
 */
import type { Accounts } from '../adapters/accounts/index.ts'
import { pushTopicOf, pushTopicRoot } from '../adapters/mqtt/topics.ts'

export interface UserLogin {
  userId: number
  userName: string
  /** Login property `token`, when the client sent one. */
  token?: string
  remoteAddress?: string
}

export interface DeviceLogin {
  clientId: string
  username?: string
  password?: Buffer
  remoteAddress?: string
}

/** `true` to accept, or a reason string to refuse (logged, and sent to proto=2 clients). */
export type AuthDecision = true | string

export interface AuthHooks {
  authenticateUser(login: UserLogin): Promise<AuthDecision>
  authenticateDevice(login: DeviceLogin): Promise<AuthDecision>
  authorizePublish(clientId: string, topic: string): Promise<AuthDecision>
  authorizeSubscribe(clientId: string, topic: string): Promise<AuthDecision>
}

export interface DefaultAuthOptions {
  accounts: Accounts
  /** Topics devices may not publish to (server-owned push topics). Default: `devices/+/push`, broadcast. */
  reservedPrefixes?: string[]
}

/**
 * Defaults: a CIM login must name a registered userId whose userName matches (upstream lets a
 * client claim any userId on the socket); devices may connect freely but may not publish into
 * the server-owned push topics, and may subscribe only to their own push topic among them.
 */
export function defaultAuth(opts: DefaultAuthOptions & { devicePushTopic: string; broadcastTopic: string }): AuthHooks {
  const pushRoot = pushTopicRoot(opts.devicePushTopic)
  return {
    async authenticateUser({ userId, userName }) {
      const account = await opts.accounts.get(userId)
      if (!account) return `unknown userId ${userId}`
      if (account.userName !== userName) return `userId ${userId} is not registered as ${userName}`
      return true
    },
    async authenticateDevice() {
      return true
    },
    async authorizePublish(clientId, topic) {
      if (topic === opts.broadcastTopic || (pushRoot && topic.startsWith(pushRoot))) return `topic ${topic} is reserved for server pushes`
      return true
    },
    async authorizeSubscribe(clientId, topic) {
      if (pushRoot && topic.startsWith(pushRoot) && topic !== pushTopicOf(opts.devicePushTopic, clientId)) {
        return `topic ${topic} belongs to another device`
      }
      return true
    },
  }
}
