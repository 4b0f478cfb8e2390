import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWs } from './support/edge.js';
import { startCluster, type TestCluster } from './support/cluster.js';
import { sleep, TextClient, waitFor, WsClient } from './support/net.js';
import { testProviders } from './support/test-events.js';

/**
 * The heartbeat of docs/protocol.md §5.9 with small intervals: I = pingInterval, L = pingNotResponseLimit;
 * a silent client is destroyed at t ∈ (L·I + I/2, L·I + I] after its last message.
 */
const I = 0.3;
const L = 2;
/** Scheduling slack on a shared 2-core machine. */
const SLACK = 0.35;

/** Seconds from `start` until `client` is closed (polled every 10 ms). */
async function closedAfter(client: TextClient | WsClient, start: number, ms = 5000): Promise<number> {
  await waitFor(() => client.closed, 'the heartbeat to close the client', ms);
  return (Date.now() - start) / 1000;
}

describe('heartbeat: pingInterval, pingNotResponseLimit, pingData', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({
      gateways: [
        // 0: closes silent clients, pings every other tick.
        { listen: ['text://127.0.0.1:0', 'websocket://127.0.0.1:0'], pingInterval: I, pingNotResponseLimit: L, pingData: 'ping' },
        // 1: limit 0: pings every interval, never closes.
        { listen: ['text://127.0.0.1:0'], pingInterval: 0.25, pingNotResponseLimit: 0, pingData: 'hb' },
        // 2: websocket ping/pong frames count as activity; no pingData.
        { listen: ['websocket://127.0.0.1:0'], pingInterval: I, pingNotResponseLimit: L, webSocketPingIsActivity: true },
      ],
      providers: testProviders,
    });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('destroys a silent text client after pingInterval × pingNotResponseLimit (window L·I + I/2 … L·I + I), pinging it twice first', async () => {
    const start = Date.now();
    const client = await TextClient.connect(cluster.port(0, 0));
    const t = await closedAfter(client, start);
    expect(t).toBeGreaterThan(L * I + I / 2 - 0.03);
    expect(t).toBeLessThan(L * I + I + SLACK);
    // pingData goes out as a normal text line on every second tick: at counts 2 and 4.
    expect(client.messages.filter((m) => m === 'ping')).toEqual(['ping', 'ping']);
    expect(cluster.gateways[0]!.clientCount).toBe(0);
  });

  it('destroys a silent websocket client the same way, without a close frame, even if it sends ping frames (PHP default)', async () => {
    const start = Date.now();
    const client = await connectWs(`ws://127.0.0.1:${cluster.port(0, 1)}`);
    let code = 0;
    client.ws.on('close', (c) => (code = c));
    // Control frames are not activity unless webSocketPingIsActivity is set.
    const pinger = setInterval(() => client.ws.readyState === client.ws.OPEN && client.ws.ping(), 100);
    try {
      const t = await closedAfter(client, start);
      expect(t).toBeGreaterThan(L * I + I / 2 - 0.03);
      expect(t).toBeLessThan(L * I + I + SLACK);
    } finally {
      clearInterval(pinger);
    }
    // 1006: the TCP connection was cut, as workerman's destroy() does.
    expect(code).toBe(1006);
    // pingData reached the websocket client as text frames.
    expect(client.messages.filter((m) => m === 'ping').length).toBe(2);
  });

  it('keeps a client that answers the pings', async () => {
    const client = await TextClient.connect(cluster.port(0, 0));
    let pings = 0;
    client.socket.on('data', (d: string) => {
      for (const line of d.split('\n')) {
        if (line === 'ping') {
          pings++;
          client.send('echo pong');
        }
      }
    });
    await sleep(2 * (L * I + I) * 1000);
    expect(client.closed).toBe(false);
    expect(pings).toBeGreaterThanOrEqual(3);
    client.close();
  });

  it('with pingNotResponseLimit = 0 sends pingData every interval and never closes', async () => {
    const start = Date.now();
    const client = await TextClient.connect(cluster.port(1, 0));
    const first = await client.until((m) => m === 'hb', 2000);
    const firstAt = (Date.now() - start) / 1000;
    // First ping at t ∈ (I, 2I] (docs/protocol.md §5.9 table).
    expect(first).toBe('hb');
    expect(firstAt).toBeGreaterThan(0.25 - 0.03);
    expect(firstAt).toBeLessThan(2 * 0.25 + SLACK);
    await sleep(1500);
    expect(client.closed).toBe(false);
    expect(client.messages.filter((m) => m === 'hb').length).toBeGreaterThanOrEqual(5);
    client.close();
  });

  it('with webSocketPingIsActivity, websocket ping frames keep a silent client alive', async () => {
    const client = await connectWs(`ws://127.0.0.1:${cluster.port(2, 0)}`);
    const pinger = setInterval(() => client.ws.readyState === client.ws.OPEN && client.ws.ping(), 100);
    try {
      await sleep(2 * (L * I + I) * 1000);
      expect(client.closed).toBe(false);
    } finally {
      clearInterval(pinger);
    }
    // Once it stops pinging, it is closed like any silent client.
    const start = Date.now();
    const t = await closedAfter(client, start);
    expect(t).toBeLessThan(L * I + I + SLACK);
  });
});
