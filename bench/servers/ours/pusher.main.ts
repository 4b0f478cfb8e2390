import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { GatewayService } from '../../../lib/index.js';
import { uidOf, payload } from '../../app-protocol.js';
import { nowUs } from '../../harness/clock.js';
import { announceReady, serveRpc } from '../../harness/agent.js';
import { PusherModule } from './pusher.module.js';

/**
 * S6's external app: a plain Nest application context with GatewayWorkerModule and no
 * BusinessWorker, so GatewayService is the GatewayClient (Register lookup, direct gateway links).
 * It pushes `u <seq> <t>` to random uids, `seq` counting per uid so receivers can check order.
 */
const app = await NestFactory.createApplicationContext(PusherModule, { logger: ['error', 'warn'] });
const gateway = app.get(GatewayService);
let seq = new Uint32Array(0);

const turn = () => new Promise<void>((r) => setImmediate(r));

function pushOne(uids: number): Promise<boolean> {
  const n = Math.floor(Math.random() * uids);
  return gateway.sendToUid(uidOf(n), payload('u', ++seq[n]!, nowUs()));
}

serveRpc({
  /** Asks the cluster for its client count (the first call also finds the gateways through the Register). */
  count: () => gateway.getAllClientCount(),
  /** Pushes at `rate`/s for `ms` to random uids among `uids`; per-uid sequences restart. */
  async paced({ rate, ms, uids }: { rate: number; ms: number; uids: number }) {
    seq = new Uint32Array(uids);
    const start = nowUs();
    let sent = 0;
    for (;;) {
      const elapsed = nowUs() - start;
      if (elapsed >= ms * 1000) break;
      const due = Math.floor((elapsed / 1e6) * rate);
      while (sent < due) {
        await pushOne(uids);
        sent++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    return { sent };
  },
  /** Pushes `count` as fast as it can, `batch` per event-loop turn; per-uid sequences restart. */
  async flat({ count, batch, uids }: { count: number; batch: number; uids: number }) {
    seq = new Uint32Array(uids);
    const startUs = nowUs();
    let sent = 0;
    while (sent < count) {
      for (let i = 0; i < batch && sent < count; i++, sent++) await pushOne(uids);
      await turn();
    }
    return { sent, startUs, endUs: nowUs() };
  },
});
announceReady();
