import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import {
  GATEWAY_WORKER_OPTIONS,
  GatewayService,
  GatewayWorkerModule,
  GatewayWorkerOptionsError,
  startGatewayWorkerTier,
  type GatewayWorkerModuleOptions,
  type GatewayWorkerOptionsFactory,
  type ResolvedGatewayWorkerOptions,
} from '../lib/index.js';
import { resolveGatewayWorkerOptions } from '../lib/gateway-worker.options.js';

describe('GatewayWorkerModule options', () => {
  it('fills in the PHP defaults', () => {
    const o = resolveGatewayWorkerOptions({ gateway: { listen: 'websocket://0.0.0.0:7272' } });
    expect(o.registerAddresses).toEqual(['127.0.0.1:1236']);
    expect(o.secretKey).toBe('');
    expect(o.register).toEqual({ host: '0.0.0.0', port: 1236, stalledLineTimeout: 30_000, maxConnectionsPerIp: 256 });
    expect(o.protectedMode).toBe(true);
    expect(resolveGatewayWorkerOptions({ protectedMode: false, register: { stalledLineTimeout: 0, maxConnectionsPerIp: 0 } })).toMatchObject({
      protectedMode: false,
      register: { stalledLineTimeout: 0, maxConnectionsPerIp: 0 },
    });
    expect(() => resolveGatewayWorkerOptions({ protectedMode: 'no' as never, register: { maxConnectionsPerIp: -1 } })).toThrow(
      /register.maxConnectionsPerIp must be an integer ≥ 0[\s\S]*protectedMode must be true or false/,
    );
    expect(o.gateway).toMatchObject({ lanIp: '127.0.0.1', startPort: 2000, lanPort: 2000, count: 1, innerBindHost: '127.0.0.1', sendToClientBufferSize: 1_024_000 });
    expect(o.gateway!.listen).toEqual([{ protocol: 'websocket', host: '0.0.0.0', port: 7272, uri: 'websocket://0.0.0.0:7272' }]);
    expect(o.businessWorker).toMatchObject({ name: 'BusinessWorker', processIndex: 0, count: 1 });
    // A public lanIp binds the internal port on every interface, as in PHP; processIndex shifts it.
    expect(resolveGatewayWorkerOptions({ gateway: { listen: 'text://0.0.0.0:1', lanIp: '8.8.8.8', processIndex: 3 } }).gateway).toMatchObject({
      innerBindHost: '0.0.0.0',
      lanPort: 2003,
    });
  });

  it('reports every problem at once: bad port, missing register address, unknown protocol', () => {
    let error: GatewayWorkerOptionsError | undefined;
    try {
      resolveGatewayWorkerOptions({
        registerAddress: [],
        gateway: { listen: ['text://0.0.0.0:99999', 'http://0.0.0.0:80'], lanIp: 'gateway.local', startPort: -1 },
      });
    } catch (err) {
      error = err as GatewayWorkerOptionsError;
    }
    expect(error).toBeInstanceOf(GatewayWorkerOptionsError);
    expect(error!.problems).toEqual([
      'registerAddress is empty; give at least one "host:port" of a Register',
      'gateway.listen: "text://0.0.0.0:99999" has no valid port (0-65535; 0 lets the OS choose)',
      'gateway.listen: unknown protocol "http" in "http://0.0.0.0:80"; use one of text, frame, tcp, websocket',
      'gateway.lanIp "gateway.local" must be an IPv4 literal: it is encoded in every client_id',
      'gateway.startPort -1 is not a port (1-65535, or 0 for OS-chosen)',
    ]);
    expect(error!.message).toContain('Fix the options passed to GatewayWorkerModule.forRoot()');
    expect(() => resolveGatewayWorkerOptions({ registerAddress: '127.0.0.1' })).toThrow(/registerAddress "127.0.0.1" is not "host:port"/);
    expect(() => resolveGatewayWorkerOptions({ gateway: { listen: [] } })).toThrow(/gateway.listen is missing/);
    expect(() => resolveGatewayWorkerOptions({ businessWorker: { name: 'a:b' } })).toThrow(/businessWorker.name/);
  });

  it('stops the app at startup with that error', async () => {
    @Module({ imports: [GatewayWorkerModule.forRoot({ gateway: { listen: 'smtp://0.0.0.0:25' } })] })
    class BadModule {}
    await expect(startGatewayWorkerTier(BadModule, 'gateway', { logger: false, shutdownHooks: false })).rejects.toThrow(/unknown protocol "smtp"/);
  });

  it('forRootAsync with useFactory and inject', async () => {
    @Injectable()
    class Config {
      get = (key: string) => ({ secret: 'from-config', address: '10.0.0.1:1236' })[key];
    }
    @Module({ providers: [Config], exports: [Config] })
    class ConfigModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        GatewayWorkerModule.forRootAsync({
          imports: [ConfigModule],
          inject: [Config],
          useFactory: (config: Config) => ({ secretKey: config.get('secret'), registerAddress: config.get('address') }),
        }),
      ],
    }).compile();
    const options = moduleRef.get<ResolvedGatewayWorkerOptions>(GATEWAY_WORKER_OPTIONS);
    expect(options.secretKey).toBe('from-config');
    expect(options.registerAddresses).toEqual(['10.0.0.1:1236']);
    expect(moduleRef.get(GatewayService)).toBeInstanceOf(GatewayService);
    await moduleRef.close();
  });

  it('forRootAsync with useClass, and validation of async options', async () => {
    class Factory implements GatewayWorkerOptionsFactory {
      createGatewayWorkerOptions(): GatewayWorkerModuleOptions {
        return { queryTimeout: 1234 };
      }
    }
    const moduleRef = await Test.createTestingModule({ imports: [GatewayWorkerModule.forRootAsync({ useClass: Factory })] }).compile();
    expect(moduleRef.get<ResolvedGatewayWorkerOptions>(GATEWAY_WORKER_OPTIONS).queryTimeout).toBe(1234);
    await moduleRef.close();
    await expect(
      Test.createTestingModule({ imports: [GatewayWorkerModule.forRootAsync({ useFactory: () => ({ queryTimeout: -5 }) })] }).compile(),
    ).rejects.toThrow(/queryTimeout must be a positive integer/);
  });
});
