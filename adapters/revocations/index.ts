/**
 * Token revocations: "refuse every token of this user (or device) issued at or before T". A JWT
 * cannot be recalled once handed out, so revocation is a per-subject cut-off time that every token
 * check reads (docs/security.md, Revocation). Memory for one node, Redis for a cluster.
 */

/** Whose tokens: a user's (CIM logins) or a device's (MQTT CONNECT). */
export type TokenSubjectKind = 'user' | 'device'

export interface Revocations {
  /** Refuses from now on every token of `kind`/`id` whose `iat` (seconds) is at or before `atSeconds`. */
  revoke(kind: TokenSubjectKind, id: string, atSeconds: number): Promise<void>
  /** The cut-off (seconds) for `kind`/`id`, or 0 when its tokens were never revoked. */
  revokedAt(kind: TokenSubjectKind, id: string): Promise<number>
  close?(): Promise<void>
}
