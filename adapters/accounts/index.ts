/** Registered app users: userId ↔ userName. Registration is idempotent by name. */
export interface Account {
  userId: number
  userName: string
}

export interface Accounts {
  /** Returns the existing account for `userName`, or creates one with a fresh userId. */
  register(userName: string): Promise<Account & { created: boolean }>
  get(userId: number): Promise<Account | undefined>
  getByName(userName: string): Promise<Account | undefined>
  close(): Promise<void>
}
