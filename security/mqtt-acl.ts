/**
 * MQTT topic ACL (docs/security.md, MQTT topic rules). The privacy rules hold whether or not
 * authentication is on; ordinary (non-reserved) topics behave exactly as MQTT 3.1.1 says.
 *
 * Reserved namespaces, from the settings:
 * - push: the device push topic template (`devices/{deviceId}/push`). Everything under its fixed
 *   root (`devices/`) is the server's: a device reads only its own push topic and the broadcast
 *   topic there, and publishes nowhere there. (With a template starting with the id, the topics
 *   ending in its fixed tail, `/push`, are the namespace instead.)
 * - uplink: device X's uplink is `<uplinkPrefix>X/...`. A device publishes into its own (or a
 *   single-level `<uplinkPrefix>name`, relayed as its own) and never into another's, and reads
 *   under the prefix only its own.
 * - `$SYS/`: monitor (and backend) clients only.
 * Roles (the device token's `role` claim): `monitor` and `backend` read everything; `backend` may
 * also publish into the push and broadcast topics.
 *
 * Checks: SUBSCRIBE is refused when its filter can only match topics the client may not read; a
 * wildcard that overlaps them is granted and filtered per message at delivery (`mayReceive`, aedes'
 * authorizeForward). Operator rules (`mqttAcl`) are checked in order before the built-in ones.
 */
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import type { MqttAclRule } from '../config.ts'
import { compileFilter, filterCovers, filterProblem, filterReachesBelow, topicMatches, type FilterLevels } from './mqtt-filters.ts'

export type MqttRole = 'device' | 'monitor' | 'backend'
const ROLES: readonly string[] = ['device', 'monitor', 'backend'] satisfies MqttRole[]

/** The role a token's `role` claim names (absent: a device), or undefined for an unknown role. */
export function mqttRoleOf(claim: string | undefined): MqttRole | undefined {
  if (claim === undefined) return 'device'
  return ROLES.includes(claim) ? (claim as MqttRole) : undefined
}

/** `true` to allow, or the reason of a refusal (logged). */
export type AclDecision = true | string

export interface MqttAclSettings {
  devicePushTopic: string
  broadcastTopic: string
  uplinkPrefix: string
  /** Operator rules, as read from the config file (checked here). */
  mqttAcl: readonly unknown[]
}

const CLIENT_ID = '{clientId}'
const SYS_LEVEL = '$SYS'

const RuleSchema = Type.Object({
  permission: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
  action: Type.Union([Type.Literal('publish'), Type.Literal('subscribe')]),
  topic: Type.String({ minLength: 1 }),
}, { additionalProperties: false })
const checkRule = Compile(RuleSchema)

/** Checks the `mqttAcl` setting; throws a message naming the rule and what is wrong with it. */
export function parseMqttAclRules(raw: readonly unknown[]): MqttAclRule[] {
  return raw.map((rule, i) => {
    const where = `mqttAcl rule ${i + 1} (${JSON.stringify(rule)})`
    if (!checkRule.Check(rule)) {
      const problems = [...checkRule.Errors(rule)].map((e) => `${e.instancePath || '/'} ${e.message}`)
      throw new Error(`${where}: ${problems.join('; ')} (expected {"permission": "allow"|"deny", "action": "publish"|"subscribe", "topic": "..."})`)
    }
    const topic = rule.topic.split(CLIENT_ID).join('x')
    const problem = filterProblem(topic)
    if (problem) throw new Error(`${where}: topic ${problem}`)
    return rule
  })
}

interface RuleTemplate { allow: boolean; label: string; topic: string; shared?: FilterLevels }
/** `label` names the rule in a refusal: `mqttAcl rule 2`, `auth webhook acl rule 1`. */
interface ClientRule { allow: boolean; label: string; levels: FilterLevels }

/** The reserved namespaces, computed once from the settings. */
interface Plan {
  broadcast: string
  pushTemplate: string
  /** Fixed text before the id in the push template ('' when the id comes first). */
  pushRoot: string
  /** Fixed text after the last id, used only when pushRoot is ''. */
  pushTail: string
  uplinkPrefix: string
  /** The uplink prefix ends at a level boundary, so a filter under it can be judged level by level. */
  uplinkLevelled: boolean
}

export class MqttAcl {
  private readonly plan: Plan
  private readonly publishRules: RuleTemplate[] = []
  private readonly subscribeRules: RuleTemplate[] = []

  /** Throws on invalid operator rules (a node must not start with an ACL it cannot read). */
  constructor(settings: MqttAclSettings) {
    const parts = settings.devicePushTopic.split('{deviceId}')
    this.plan = {
      broadcast: settings.broadcastTopic,
      pushTemplate: settings.devicePushTopic,
      pushRoot: parts.length > 1 ? parts[0] : '',
      pushTail: parts.length > 1 ? parts[parts.length - 1] : '',
      uplinkPrefix: settings.uplinkPrefix,
      uplinkLevelled: settings.uplinkPrefix.endsWith('/'),
    }
    parseMqttAclRules(settings.mqttAcl).forEach((rule, index) => {
      const t: RuleTemplate = { allow: rule.permission === 'allow', label: `mqttAcl rule ${index + 1}`, topic: rule.topic }
      if (!rule.topic.includes(CLIENT_ID)) t.shared = compileFilter(rule.topic)
      ;(rule.action === 'publish' ? this.publishRules : this.subscribeRules).push(t)
    })
  }

  /**
   * The client's view, computed once per connection (at CONNECT). `clientRules` are this client's
   * own (an auth webhook's `acl`, already checked with parseMqttAclRules): checked in order before
   * the operator rules, which are checked before the built-in ones (docs/security.md, Auth webhook).
   */
  forClient(clientId: string, role: MqttRole = 'device', clientRules: readonly MqttAclRule[] = []): ClientAcl {
    const resolve = (rules: RuleTemplate[]): ClientRule[] => rules.map((r) => ({
      allow: r.allow, label: r.label, levels: r.shared ?? compileFilter(r.topic.split(CLIENT_ID).join(clientId)),
    }))
    const own = (action: MqttAclRule['action']): ClientRule[] => clientRules.flatMap((r, i) => r.action !== action ? [] : [{
      allow: r.permission === 'allow', label: `auth webhook acl rule ${i + 1}`, levels: compileFilter(r.topic.split(CLIENT_ID).join(clientId)),
    }])
    return new ClientAcl(this.plan, clientId, role,
      [...own('publish'), ...resolve(this.publishRules)], [...own('subscribe'), ...resolve(this.subscribeRules)])
  }
}

export class ClientAcl {
  private readonly reads: boolean
  private readonly ownPush: string
  /** `<uplinkPrefix><clientId>/`: every topic of this client's uplink starts with it. */
  private readonly ownUplink: string

  constructor(
    private readonly plan: Plan,
    readonly clientId: string,
    readonly role: MqttRole,
    private readonly publishRules: readonly ClientRule[],
    private readonly subscribeRules: readonly ClientRule[],
  ) {
    this.reads = role !== 'device'
    this.ownPush = plan.pushTemplate.split('{deviceId}').join(clientId)
    this.ownUplink = `${plan.uplinkPrefix}${clientId}/`
  }

  /**
   * Whether a message on `topic` may be written to this client (aedes' authorizeForward: runs per
   * message per subscriber, retained messages included). For a broadcast: one string compare.
   */
  mayReceive(topic: string): boolean {
    const p = this.plan
    if (topic === p.broadcast || topic === this.ownPush) return true
    if (this.subscribeRules.length !== 0) {
      for (const r of this.subscribeRules) if (topicMatches(r.levels, topic)) return r.allow
    }
    if (this.reads) return true
    if (topic.charCodeAt(0) === 36 && topic.startsWith('$SYS')) return false
    if (this.inPushNamespace(topic)) return false
    return p.uplinkPrefix === '' || !topic.startsWith(p.uplinkPrefix) || topic.startsWith(this.ownUplink)
  }

  /** SUBSCRIBE: refused (SUBACK 0x80) when the filter can only match what this client may not read. */
  maySubscribe(filter: string): AclDecision {
    const p = this.plan
    if (filter === p.broadcast || filter === this.ownPush) return true
    const levels = compileFilter(filter)
    for (const r of this.subscribeRules) if (filterCovers(r.levels, levels)) return r.allow || `denied by ${r.label}`
    if (this.reads) return true
    if (levels[0] === SYS_LEVEL) return '$SYS topics are for monitor clients'
    if (p.pushRoot !== '' ? filter.startsWith(p.pushRoot) : !/[+#]/.test(filter) && this.inPushNamespace(filter)) {
      return `topic ${filter} belongs to another device or the server`
    }
    if (p.uplinkLevelled && filter.startsWith(p.uplinkPrefix)) {
      const below = compileFilter(filter.slice(p.uplinkPrefix.length))
      if (!filterReachesBelow(below, this.clientId.split('/'))) return `topic ${filter} is another device's uplink`
    }
    return true
  }

  /** PUBLISH: `$SYS/` is checked by the caller first (aedes' own rule, for every client). */
  mayPublish(topic: string): AclDecision {
    for (const r of this.publishRules) if (topicMatches(r.levels, topic)) return r.allow || `denied by ${r.label}`
    if (this.role === 'backend') return true
    const p = this.plan
    if (topic === p.broadcast || this.inPushNamespace(topic)) return `topic ${topic} is reserved for server pushes`
    if (p.uplinkPrefix !== '' && topic.startsWith(p.uplinkPrefix) && !topic.startsWith(this.ownUplink)
      && topic.indexOf('/', p.uplinkPrefix.length) !== -1) {
      return `topic ${topic} is another device's uplink`
    }
    return true
  }

  /** Under the push root, or (template starting with the id) ending in its tail; own push topic excluded by callers. */
  private inPushNamespace(topic: string): boolean {
    const p = this.plan
    if (p.pushRoot !== '') return topic.startsWith(p.pushRoot)
    return p.pushTail !== '' && topic.endsWith(p.pushTail)
  }
}
