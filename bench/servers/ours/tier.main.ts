import 'reflect-metadata';
import { BusinessWorkerServer, GatewayServer, startGatewayWorkerTier, type GatewayWorkerTier } from '../../../lib/index.js';
import { announceReady, serveRpc } from '../../harness/agent.js';
import { BenchModule } from './bench.module.js';

/**
 * One tier of "ours" (`node tier.main.js register|gateway|business-worker`), booted exactly as
 * a user boots it, plus the harness's commands: `stats` reads the tier's own counters (the
 * gateway's connection and uid tables, the worker's links), so measurements are gated on what
 * the server has accepted, not on what clients believe.
 */
const tier = process.argv[2] as GatewayWorkerTier;
const app = await startGatewayWorkerTier(BenchModule, tier, { logger: ['error', 'warn'] });

serveRpc({
  stats: () => {
    if (tier === 'gateway') {
      const g = app.get(GatewayServer);
      let bound = 0;
      for (const members of g.tables.uids.values()) bound += members.size;
      return { clients: g.clientCount, uids: bound, groups: g.tables.groups.size, workers: g.workerKeys.length };
    }
    if (tier === 'business-worker') {
      const w = app.get(BusinessWorkerServer);
      return { gateways: w.connectedGateways.length, handled: w.handledEvents };
    }
    return {};
  },
});

announceReady(tier === 'gateway' ? { ports: app.get(GatewayServer).publicPorts, address: app.get(GatewayServer).address } : {});
