import { Injectable, Module, ValidationPipe, type INestMicroservice, type LoggerService } from '@nestjs/common';
import { IsString, MaxLength } from 'class-validator';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GatewayEvents, GatewayService, GatewayWorkerModule, OnMessage, ParseJsonPipe, Payload, startGatewayWorkerTier } from '../lib/index.js';
import { CapturingLogger, startGatewayOnly } from './support/cluster.js';
import { fixtureCluster } from './support/fixture-cluster.js';
import { freePort, greeted, TextClient, waitFor } from './support/net.js';
import { alive, repoPath } from './support/processes.js';

class SayDto {
  @IsString()
  @MaxLength(10)
  text!: string;
}

@GatewayEvents()
class SayEvents {
  constructor(private readonly gateway: GatewayService) {}
  @OnMessage()
  async say(@Payload() dto: SayDto) {
    await this.gateway.sendToCurrentClient(`said ${dto.text} (${dto instanceof SayDto ? 'SayDto' : typeof dto})`);
  }
}

/** A logger that is a provider of the app, as nestjs-pino's Logger is. */
@Injectable()
class AppLogger implements LoggerService {
  static readonly lines: string[] = [];
  log(m: unknown, context?: string) { AppLogger.lines.push(`log ${context} ${String(m)}`); }
  error(m: unknown, context?: string) { AppLogger.lines.push(`error ${context} ${String(m)}`); }
  warn(m: unknown, context?: string) { AppLogger.lines.push(`warn ${context} ${String(m)}`); }
}

describe('startGatewayWorkerTier hooks: configure, logger, bufferLogs', () => {
  const apps: INestMicroservice[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close();
  });

  it('configure runs before listen(): a global ValidationPipe validates every message; the logger given gets the tier\'s logs', async () => {
    const edgeLogger = new CapturingLogger();
    const { registerAddress, apps: edgeApps, gateway } = await startGatewayOnly(edgeLogger);
    apps.push(...edgeApps);
    @Module({ imports: [GatewayWorkerModule.forRoot({ registerAddress, businessWorker: { name: 'Validated' } })], providers: [SayEvents] })
    class WorkerModule {}
    const logger = new CapturingLogger();
    let configuredBeforeListen: boolean | undefined;
    apps.push(
      await startGatewayWorkerTier(WorkerModule, 'business-worker', {
        shutdownHooks: false,
        logger,
        configure: (app) => {
          configuredBeforeListen = logger.find('log', 'successfully started').length === 0;
          app.useGlobalPipes(new ParseJsonPipe(), new ValidationPipe({ transform: true, }));
        },
      }),
    );
    expect(configuredBeforeListen).toBe(true);
    await waitFor(() => gateway.workerKeys.length === 1, 'the worker to connect');
    const client = await TextClient.connect(gateway.publicPorts[0]!);
    client.send('{"text":"far too long a text"}');
    client.send('{"text":42}');
    client.send('{"text":"hi"}');
    // The two invalid messages never reached the handler; the valid one arrived as a SayDto.
    expect(await client.next()).toBe('said hi (SayDto)');
    expect(logger.lines.some((l) => l.message.includes('successfully started'))).toBe(true);
    await waitFor(() => logger.lines.filter((l) => l.level === 'error').length >= 2, 'both validation failures to be logged');
    client.close();
  });

  it('bufferLogs + app.useLogger(app.get(AppLogger)) in configure: the startup logs reach the provider logger', async () => {
    AppLogger.lines.length = 0;
    const registerAddress = `127.0.0.1:${await freePort()}`;
    @Module({ imports: [GatewayWorkerModule.forRoot({ registerAddress, register: { listen: registerAddress } })], providers: [AppLogger] })
    class RegisterModule {}
    apps.push(
      await startGatewayWorkerTier(RegisterModule, 'register', {
        shutdownHooks: false,
        bufferLogs: true,
        configure: (app) => app.useLogger(app.get(AppLogger)),
      }),
    );
    // Buffered from before configure (module initialisation), then the live ones after it.
    expect(AppLogger.lines.some((l) => l.startsWith('log InstanceLoader') || l.startsWith('log NestFactory'))).toBe(true);
    expect(AppLogger.lines.some((l) => l.includes('successfully started'))).toBe(true);
  });
});

describe('startGatewayWorkerTier logs plain text when its output is not a terminal', () => {
  it('a tier whose stdout is a pipe writes no ANSI colour codes (NO_COLOR unset)', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NO_COLOR' && k !== 'FORCE_COLOR')) as Record<string, string>;
    const child = spawn(process.execPath, [repoPath('dist/sample/register.main.js')], {
      env: { ...env, GW_REGISTER_ADDRESS: `127.0.0.1:${await freePort()}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      await waitFor(() => out.includes('Register listening on'), 'the Register to start', 15_000);
      expect(out).toMatch(/\[Nest\] \d+ +- .* +LOG \[Register\] Register listening on/);
      expect(out).not.toContain('\x1b[');
    } finally {
      child.kill('SIGKILL');
    }
  }, 20_000);
});

describe('the long form (NestFactory.createMicroservice + signalGatewayWorkerReady) under gateway-worker start', () => {
  let cluster: Awaited<ReturnType<typeof fixtureCluster>> | undefined;
  let pids: number[] = [];
  afterAll(async () => {
    await cluster?.cli('stop');
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }, 30_000);

  it('becomes ready: start -d returns, and the worker serves', async () => {
    cluster = await fixtureCluster({ gateways: 1, workers: 1 });
    const entry = (f: string) => repoPath(`dist/test/fixtures/cluster-app/${f}.main.js`);
    writeFileSync(
      join(cluster.dir, 'gateway-worker.config.json'),
      JSON.stringify({
        tiers: [
          { tier: 'register', entry: entry('register') },
          { tier: 'gateway', entry: entry('gateway') },
          { tier: 'business-worker', entry: entry('business-long') },
        ],
        stopTimeout: 5000,
      }),
    );
    const started = await cluster.cli('start', '-d');
    const status = JSON.parse((await cluster.cli('status', '--json')).out) as { master: number; processes: { pid: number; tier: string; state: string }[] };
    pids = [status.master, ...status.processes.map((p) => p.pid)];
    expect(started.out).toMatch(/started in the background/);
    expect(status.processes.find((p) => p.tier === 'business-worker')?.state).toBe('running');
    const { client } = await greeted(() => TextClient.connect(cluster!.textPort), 15_000);
    client.send('ping');
    expect(await client.until((m) => m.endsWith('ping'), 5000)).toBe('v1 ping');
    client.close();
  }, 60_000);
});
