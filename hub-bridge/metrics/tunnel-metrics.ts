// The small interface tunnel code calls to be counted (hub-bridge/tunnel/**, the gateway):
// it knows nothing about Prometheus. Tunnel up/down and reconnects reach the metrics as
// session changes (sessions/session-tunnels.ts → BridgeMetrics.sessions.tunnel); the
// tunnel endpoint (hub-bridge/tunnel/tunnels.ts) calls `bytes` for what it relays.

export type TunnelDirection = 'to_notebook' | 'from_notebook';
export type TunnelState = 'connecting' | 'up' | 'down';

export interface TunnelMetrics {
  /** The tunnel of `sessionId` is now in `state`; `closed` forgets it (session over). */
  state(sessionId: string, state: TunnelState | 'closed'): void;
  /** A tunnel came up again after it had been up before (one reconnect). */
  reconnected(sessionId: string): void;
  /** `n` bytes relayed in `direction` (hub → notebook = to_notebook). */
  bytes(direction: TunnelDirection, n: number): void;
}

/** For code that runs without metrics (tests, tools). */
export const NO_TUNNEL_METRICS: TunnelMetrics = {
  state() {},
  reconnected() {},
  bytes() {},
};
