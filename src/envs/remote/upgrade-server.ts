/**
 * The WebSocket side of turngym's servers (`turngym serve` and its `--openenv` form). Kept out of server.ts so
 * that the published declarations of the public modules never name a type of `ws`, a dev-only types package.
 */
import { WebSocketServer } from 'ws';

/**
 * Upgrades handed over by a server's own HTTP server (`noServer`), messages up to `maxPayload` bytes (a larger
 * one closes its connection, 1009), one message per event-loop turn so that one large write of many messages
 * cannot keep the other connections waiting.
 */
export function upgradeServer(maxPayload: number): WebSocketServer {
  return new WebSocketServer({ noServer: true, maxPayload, clientTracking: false, allowSynchronousEvents: false });
}
