import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { INestMicroservice } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessStats } from '../lib/index.js';
import { boot, CapturingLogger, startGatewayOnly } from './support/cluster.js';
import { waitFor } from './support/net.js';
import { FakePhpGateway, FakePhpWorker } from './support/php-gateway.js';
import { repoPath } from './support/processes.js';
import { TestEvents } from './support/test-events.js';

const run = promisify(execFile);

/** Extension commands are 150–199; 200–205 are PHP's own. */
const extensionCommands = (cmds: number[]) => cmds.filter((c) => c >= 150 && c < 200);

describe('gateway-worker status in a mixed PHP/TypeScript cluster', () => {
  const apps: INestMicroservice[] = [];
  let php: FakePhpGateway;
  let phpWorker: FakePhpWorker;
  let registerAddress: string;
  let tsGatewayAddress: string;
  const dir = mkdtempSync(join(tmpdir(), 'gw-mixed-'));

  /** The real CLI, from a directory without config. */
  const status = async (...args: string[]) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEWAY_WORKER_')));
    const { stdout } = await run(process.execPath, [repoPath('dist/lib/cli/gateway-worker.cli.js'), 'status', '--register', registerAddress, ...args], { cwd: dir, env, timeout: 30_000 });
    return stdout;
  };

  beforeAll(async () => {
    const logger = new CapturingLogger();
    const edge = await startGatewayOnly(logger);
    registerAddress = edge.registerAddress;
    tsGatewayAddress = edge.gateway.address;
    apps.push(...edge.apps);
    // A TypeScript worker: it connects to every gateway the Register lists, the PHP one too.
    apps.push(await boot({ ...edge.common, businessWorker: { name: 'TsWorker' } }, 'business-worker', logger, [TestEvents]));
    php = await FakePhpGateway.start(registerAddress, { clients: 3 });
    phpWorker = await FakePhpWorker.connect(tsGatewayAddress, 'PhpWorker:0');
    await waitFor(() => edge.gateway.workerKeys.length === 2 && php.received.includes(200), 'both workers at the TypeScript gateway, and the TypeScript worker at the PHP one', 10_000);
  }, 30_000);

  afterAll(async () => {
    phpWorker?.close();
    await php?.close();
    for (const app of apps.reverse()) await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the PHP gateway as PHP (with its client count), the TypeScript one with STATUS, and the PHP worker; no extension command reaches a PHP peer', async () => {
    // The TypeScript worker reports its stats to its gateways every second.
    let json: { cluster: { gateways: ProcessStats[]; workers: ProcessStats[]; unreachable: string[] } } | undefined;
    await waitFor(async () => {
      json = JSON.parse(await status('--json'));
      return json!.cluster.workers.length === 2;
    }, 'both workers to be listed', 10_000);
    const { gateways, workers, unreachable } = json!.cluster;
    expect(unreachable).toEqual([]);
    expect(gateways).toHaveLength(2);
    const phpGateway = gateways.find((g) => g.implementation === 'php')!;
    expect(phpGateway).toMatchObject({ tier: 'gateway', host: '127.0.0.1', connections: 3, listening: `inner ${php.address}`, state: 'running' });
    const tsGateway = gateways.find((g) => g.implementation === undefined)!;
    expect(tsGateway.listening).toContain(`inner ${tsGatewayAddress}`);
    expect(tsGateway.pid).toBe(process.pid);
    expect(workers.map((w) => `${w.name} ${w.implementation ?? 'ts'}`).sort()).toEqual(['PhpWorker:0 php', 'TsWorker:0 ts']);
    expect(workers.find((w) => w.implementation === 'php')).toMatchObject({ host: '127.0.0.1', connections: 1 });

    const table = await status();
    expect(table).toMatch(/gateway Gateway \(php\)\s+3\s/);
    expect(table).toMatch(/worker PhpWorker:0 \(php\)/);
    expect(table).toContain('2 gateway(s), 2 worker(s) (2 PHP) on 1 host(s); 3 client connection(s)');

    // What the PHP peers received: PHP's own commands only.
    expect(php.received).toContain(11); // the probe, CMD_IS_ONLINE
    expect(php.received).toContain(24); // the client count
    expect(extensionCommands(php.received)).toEqual([]);
    expect(php.unknown).toEqual([]);
    expect(extensionCommands(phpWorker.received)).toEqual([]);
  }, 30_000);
});
