/** Plain counters of the CIM server, read by /metrics (no metric-library call on the hot path). */
export interface CimStats {
  framesIn: number
  logins: number
  loginsRefused: number
  /** Frames written to clients for pushes and broadcasts. */
  deliveries: number
  broadcasts: number
  /** Stored messages written again after the ack timeout (proto=2 clients that did not ACK). */
  redeliveries: number
  /** Sessions ended, by catalogue code (CIM_CLIENT_CLOSED when the client hung up). */
  closes: Map<string, number>
}

export function newCimStats(): CimStats {
  return { framesIn: 0, logins: 0, loginsRefused: 0, deliveries: 0, broadcasts: 0, redeliveries: 0, closes: new Map() }
}
