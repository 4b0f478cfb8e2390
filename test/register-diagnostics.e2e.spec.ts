import type { INestMicroservice } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { boot, CapturingLogger } from './support/cluster.js';
import { freePort, sleep, waitFor } from './support/net.js';

/**
 * Warnings and logs about Register links, of the peers whose tier name starts with `tier`. (Nest's
 * logger is process-wide: every app of a test logs to the one CapturingLogger.)
 */
const aboutRegister = (logger: CapturingLogger, tier = '') => logger.lines.filter((l) => l.message.startsWith(tier) && / Register at /.test(l.message));

describe('Register link diagnostics: one line per outage, naming the cause', () => {
  const apps: INestMicroservice[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close();
  });


  it('a worker and a gateway whose secret key the Register refuses: one warning each, saying so, over 4 s of retries', async () => {
    const logger = new CapturingLogger();
    const address = `127.0.0.1:${await freePort()}`;
    apps.push(await boot({ registerAddress: address, secretKey: 'right', register: { listen: address } }, 'register', logger));
    apps.push(await boot({ registerAddress: address, secretKey: 'wrong', businessWorker: { name: 'KeyW', noGatewayWarning: 60_000 } }, 'business-worker', logger));
    apps.push(await boot({ registerAddress: address, secretKey: 'wrong', gateway: { name: 'KeyG', listen: 'text://127.0.0.1:0', startPort: 0 } }, 'gateway', logger));
    await sleep(4_000);
    // The Register logs the refusals naming the peer, rate-limited per address (both peers share 127.0.0.1).
    expect(logger.find('warn', 'wrong secret key').filter((m) => m.startsWith('Register:')).length).toBeGreaterThanOrEqual(1);
    for (const tier of ['BusinessWorker KeyW', 'KeyG']) {
      const lines = aboutRegister(logger, tier);
      expect(lines, JSON.stringify(lines)).toHaveLength(1);
      expect(lines[0]!.level).toBe('warn');
      expect(lines[0]!.message).toMatch(new RegExp(`the Register at ${address} refuses this peer: .*wrong secret key.*same secretKey`));
      expect(lines[0]!.message).not.toMatch(/cannot reach|fix registerAddress/);
    }
  }, 20_000);

  it('an unreachable Register: one warning naming the error; when it comes up, one "connected" line and no further warning', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const logger = new CapturingLogger();
    apps.push(await boot({ registerAddress: address, businessWorker: { name: 'LateReg', noGatewayWarning: 60_000 } }, 'business-worker', logger));
    await sleep(2_500);
    const down = aboutRegister(logger);
    expect(down).toHaveLength(1);
    expect(down[0]!.message).toMatch(/cannot reach the Register at .*ECONNREFUSED/);
    apps.unshift(await boot({ registerAddress: address, register: { listen: address } }, 'register', logger));
    await waitFor(() => logger.find('log', 'connected to the Register at').length === 1, 'the link to come up', 5_000);
    await sleep(1_500);
    expect(aboutRegister(logger).map((l) => l.level)).toEqual(['warn', 'log']);
  }, 20_000);
});
