import type { Logger } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { fakeSocket } from './support/fake-socket.js';
import { ClientConnection } from '../lib/gateway/client-connection.js';
import { EventForwarder, type EventForwarderOptions } from '../lib/gateway/event-forwarder.js';
import { GatewayCounters } from '../lib/gateway/gateway-counters.js';
import { InnerConnection } from '../lib/gateway/inner-connection.js';
import { WorkerRouter } from '../lib/gateway/worker-router.js';
import { RateMeter } from '../lib/utils/rate-meter.js';
import { GatewayCommand } from '../lib/protocol/gateway-command.js';
import { decodeGatewayPacket } from '../lib/protocol/gateway-packet.js';
import { LogThrottle } from '../lib/utils/log-throttle.js';


const noLimit = { limit: 1 << 20, sent: () => undefined, full: () => undefined };
let nextId = 1;
const client = () => new ClientConnection(nextId++, fakeSocket(), 'text', 0x7f000001, 5000, 8282, noLimit);
function worker(flowControl = true): InnerConnection {
  const w = new InnerConnection(fakeSocket(), 1 << 20, '');
  w.flowControl = flowControl;
  return w;
}
/** The events a worker received: [cmd, connectionId, body]. */
const received = (w: InnerConnection) =>
  (w.socket as unknown as { written: Buffer[] }).written.map((b) => decodeGatewayPacket(b)).map((p) => [p.cmd, p.connectionId, p.body.toString()]);

function setup(options: Partial<EventForwarderOptions> = {}) {
  const router = new WorkerRouter('least-connections');
  const clients = new Map<number, ClientConnection>();
  const counters = new GatewayCounters();
  const lines: string[] = [];
  const logger = { warn: (m: string) => lines.push(m), log: (m: string) => lines.push(m), error: (m: string) => lines.push(m) } as unknown as Logger;
  const forwarder = new EventForwarder(router, clients, counters, new RateMeter(), logger, new LogThrottle(), {
    lanIpLong: 0x7f000001,
    lanPort: () => 2900,
    maxEventsInFlight: 3,
    maxBytesInFlight: 1000,
    innerMaxPackageSize: 1 << 20,
    workerWaitWindow: 1000,
    workerWaitPolicy: 'close',
    workerHangTimeout: 500,
    clientIdOf: (c) => String(c.id),
    ...options,
  });
  const add = (c: ClientConnection) => (clients.set(c.id, c), c);
  return { router, clients, counters, lines, forwarder, add };
}

describe('WorkerRouter', () => {
  it('binds clients to the least-loaded worker and keeps them there; refuses a second live worker of one name', () => {
    const r = new WorkerRouter('least-connections');
    const [a, b] = [worker(), worker()];
    expect(r.add('a', a)).toBe(true);
    expect(r.add('b', b)).toBe(true);
    expect(r.add('a', worker())).toBe(false);
    const [c1, c2, c3] = [client(), client(), client()];
    expect(r.route(c1)).toBe(a);
    expect(r.route(c2)).toBe(b);
    expect(r.route(c3)).toBe(a);
    expect(r.route(c1)).toBe(a);
    r.release(c1);
    expect(r.route(client())).toBe(a);
  });

  it('holds the clients of a draining worker (null) and gives it no new client; a gone worker rebinds', () => {
    const r = new WorkerRouter('least-connections');
    const [a, b] = [worker(), worker()];
    r.add('a', a);
    const c = client();
    expect(r.route(c)).toBe(a);
    r.add('b', b);
    r.drain('a');
    expect(r.route(c)).toBeNull();
    expect(r.canRoute(c)).toBe(false);
    expect(r.route(client())).toBe(b);
    expect(r.remove('a', a)).toBe(true);
    expect(r.canRoute(c)).toBe(true);
    expect(r.route(c)).toBe(b);
  });
});

describe('EventForwarder: flow control', () => {
  it('stops reading a client whose budget is spent, and sends its held events in order as confirmations come', () => {
    const { router, forwarder, add, counters } = setup();
    const w = worker();
    router.add('w', w);
    const c = add(client());
    forwarder.connected(c);
    for (let i = 0; i < 5; i++) forwarder.message(c, Buffer.from(`m${i}`), 1);
    // Budget 3: connect + m0 + m1 went; m2..m4 wait and the socket is paused.
    expect(received(w).map((e) => e[2])).toEqual(['', 'm0', 'm1']);
    expect(c.paused).toBe(true);
    expect(counters.limits.flowControlPause).toBe(1);
    forwarder.confirmed(w, c.id);
    expect(received(w).map((e) => e[2])).toEqual(['', 'm0', 'm1', 'm2']);
    expect(c.paused).toBe(true);
    forwarder.confirmed(w, c.id);
    forwarder.confirmed(w, c.id);
    expect(received(w).map((e) => e[2])).toEqual(['', 'm0', 'm1', 'm2', 'm3', 'm4']);
    expect(c.paused).toBe(false);
    expect(c.backlog).toBeNull();
  });

  it('budgets bytes too: one large event goes alone, the next waits', () => {
    const { router, forwarder, add } = setup();
    const w = worker();
    router.add('w', w);
    const c = add(client());
    forwarder.message(c, Buffer.alloc(5000), 1);
    forwarder.message(c, Buffer.from('small'), 1);
    expect(received(w)).toHaveLength(1);
    forwarder.confirmed(w, c.id);
    expect(received(w)).toHaveLength(2);
  });

  it('other clients of the same worker are not held by one client spending its budget', () => {
    const { router, forwarder, add } = setup();
    const w = worker();
    router.add('w', w);
    const [flooder, other] = [add(client()), add(client())];
    for (let i = 0; i < 10; i++) forwarder.message(flooder, Buffer.from(`f${i}`), 1);
    forwarder.message(other, Buffer.from('o'), 1);
    expect(received(w).filter((e) => e[1] === other.id)).toHaveLength(1);
    expect(other.paused).toBe(false);
  });

  it('a worker without flow control (PHP) is not budgeted', () => {
    const { router, forwarder, add } = setup();
    const w = worker(false);
    router.add('w', w);
    const c = add(client());
    for (let i = 0; i < 10; i++) forwarder.message(c, Buffer.from(`m${i}`), 1);
    expect(received(w)).toHaveLength(10);
    expect(c.paused).toBe(false);
  });

  it("a closed client's ON_CLOSE follows its held events, and its confirmations are still matched", () => {
    const { router, forwarder, add, clients } = setup();
    const w = worker();
    router.add('w', w);
    const c = add(client());
    c.announced = true;
    for (let i = 0; i < 4; i++) forwarder.message(c, Buffer.from(`m${i}`), 1);
    c.closed = true;
    forwarder.closed(c);
    clients.delete(c.id);
    for (let i = 0; i < 5; i++) forwarder.confirmed(w, c.id);
    expect(received(w).map((e) => e[0])).toEqual([...Array(4).fill(GatewayCommand.ON_MESSAGE), GatewayCommand.ON_CLOSE]);
  });
});

describe('EventForwarder: workers that leave or hang', () => {
  it("a worker that leaves: its unconfirmed events are counted lost, its clients' budgets freed and their held events go to another worker", () => {
    const { router, forwarder, add, counters } = setup();
    const [a, b] = [worker(), worker()];
    router.add('a', a);
    const c = add(client());
    for (let i = 0; i < 5; i++) forwarder.message(c, Buffer.from(`m${i}`), 1);
    router.add('b', b);
    router.remove('a', a);
    forwarder.workerGone(a, 'a');
    expect(counters.eventsLost).toBe(3);
    expect(received(b).map((e) => e[2])).toEqual(['m3', 'm4']);
    expect(c.paused).toBe(false);
  });

  it('declares a silent worker with outstanding events hung, once, and tells it when it comes back', () => {
    const { router, forwarder, add, counters, lines } = setup();
    const [a, b] = [worker(), worker()];
    router.add('a', a);
    const c = add(client());
    forwarder.message(c, Buffer.from('x'), 1);
    router.add('b', b);
    const now = Date.now();
    a.lastHeard = now - 10_000;
    forwarder.sweep(now + 100); // outstanding for 100 ms only
    expect(counters.limits.workerHung).toBe(0);
    forwarder.sweep(now + 1000);
    expect(counters.limits.workerHung).toBe(1);
    expect(counters.eventsLost).toBe(1);
    expect(a.socket.destroyed).toBe(true);
    expect(router.workers.has('a')).toBe(false);
    expect(lines.some((l) => l.includes('declared hung'))).toBe(true);
    forwarder.message(c, Buffer.from('y'), 1);
    expect(received(b).map((e) => e[2])).toEqual(['y']);
    expect(forwarder.takeHungNotice('a')).not.toBeNull();
    expect(forwarder.takeHungNotice('a')).toBeNull();
  });

  it('a worker that keeps talking (status reports) is not hung, however long its handlers take', () => {
    const { router, forwarder, add, counters } = setup();
    const a = worker();
    router.add('a', a);
    forwarder.message(add(client()), Buffer.from('slow'), 1);
    const now = Date.now();
    a.lastHeard = now + 900;
    forwarder.sweep(now + 1000);
    expect(counters.limits.workerHung).toBe(0);
  });

  it("events waiting for a worker past the window: 'close' closes the client, 'drop' drops them and reads on", () => {
    for (const policy of ['close', 'drop'] as const) {
      const { forwarder, add, counters } = setup({ workerWaitPolicy: policy });
      const c = add(client());
      forwarder.connected(c);
      forwarder.message(c, Buffer.from('m'), 1);
      expect(c.paused).toBe(true);
      forwarder.sweep(Date.now() + 2000);
      expect(counters.limits.waitExpired).toBe(2);
      expect(c.socket.destroyed).toBe(policy === 'close');
      if (policy === 'drop') expect(c.paused).toBe(false);
      expect(forwarder.backlog.clients).toBe(0);
    }
  });
});
