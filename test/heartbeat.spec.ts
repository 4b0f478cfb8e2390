import { describe, expect, it } from 'vitest';
import { GatewayWorkerOptionsError } from '../lib/index.js';
import { resolveGatewayWorkerOptions } from '../lib/gateway-worker.options.js';
import type { ClientConnection } from '../lib/gateway/client-connection.js';
import { Heartbeat } from '../lib/gateway/heartbeat.js';

/** A stand-in client that records what the sweep sends it. */
function fakeClient(id: number, protocol: ClientConnection['protocol'] = 'text') {
  const sent: string[] = [];
  const client = {
    id,
    protocol,
    pingCount: -1,
    write(frame: Buffer | readonly Buffer[]) {
      sent.push(Buffer.concat(Buffer.isBuffer(frame) ? [frame] : [...frame]).toString('latin1'));
      return true;
    },
  };
  return { client: client as unknown as ClientConnection, sent };
}

/** Runs `ticks` sweeps; returns, per tick (1-based), what happened to the client. */
function run(limit: number, ticks: number, pingData = 'ping', protocol: ClientConnection['protocol'] = 'text') {
  const { client, sent } = fakeClient(1, protocol);
  const clients = new Map([[1, client]]);
  const log: string[] = [];
  const hb = new Heartbeat({ pingInterval: 1, pingNotResponseLimit: limit, pingData: Buffer.from(pingData) }, clients, () => {
    log.push('destroy');
    clients.delete(1);
  });
  for (let t = 1; t <= ticks; t++) {
    const before = sent.length;
    hb.tick();
    if (sent.length > before) log.push(`${t}:${JSON.stringify(sent.at(-1))}`);
    if (log.at(-1) === 'destroy') {
      log[log.length - 1] = `${t}:destroy`;
      break;
    }
  }
  return { log, hb };
}

describe('Heartbeat sweep (docs/protocol.md §5.9), tick by tick', () => {
  it('L = 2: pings at counts 2 and 4 (ticks 3, 5), destroys at tick 6; the period is I/2', () => {
    const { log, hb } = run(2, 10);
    expect(log).toEqual(['3:"ping\\n"', '5:"ping\\n"', '6:destroy']);
    expect(hb.period).toBe(500);
  });

  it('L = 1: one ping (tick 3), destroyed at tick 4', () => {
    expect(run(1, 10).log).toEqual(['3:"ping\\n"', '4:destroy']);
  });

  it('L = 0: pings every tick but the first, never destroys; the period is I', () => {
    const { log, hb } = run(0, 5, 'hb');
    expect(log).toEqual(['2:"hb\\n"', '3:"hb\\n"', '4:"hb\\n"', '5:"hb\\n"']);
    expect(hb.period).toBe(1000);
  });

  it('frames pingData for the client protocol (a websocket text frame), and sends nothing without pingData', () => {
    expect(run(0, 2, 'hb', 'websocket').log).toEqual([`2:${JSON.stringify('\x81\x02hb')}`]);
    expect(run(2, 10, '').log).toEqual(['6:destroy']);
  });

  it('a message resets the counter', () => {
    const { client } = fakeClient(1);
    const clients = new Map([[1, client]]);
    let destroyed = false;
    const hb = new Heartbeat({ pingInterval: 1, pingNotResponseLimit: 1, pingData: Buffer.alloc(0) }, clients, () => (destroyed = true));
    for (let t = 0; t < 20; t++) {
      hb.tick();
      if (t % 3 === 2) client.pingCount = -1; // what the gateway does on each message
    }
    expect(destroyed).toBe(false);
  });

  it('is off with pingInterval 0, and validates its options', () => {
    expect(new Heartbeat({ pingInterval: 0, pingNotResponseLimit: 1, pingData: Buffer.alloc(0) }, new Map(), () => undefined).period).toBe(0);
    try {
      resolveGatewayWorkerOptions({ gateway: { listen: 'text://0.0.0.0:8282', pingInterval: -1, pingNotResponseLimit: 1.5 } });
      expect.unreachable();
    } catch (err) {
      expect((err as GatewayWorkerOptionsError).problems).toEqual([
        'gateway.pingInterval must be a number of seconds ≥ 0 (0 turns the heartbeat off)',
        'gateway.pingNotResponseLimit must be an integer ≥ 0',
      ]);
    }
  });
});
