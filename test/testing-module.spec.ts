import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
// The package's own entry points, as an app imports them (package.json "exports").
import { GatewayService, InvalidClientIdError, NoCurrentClientError } from 'nestjs-gateway-worker';
import { GatewayServiceDouble, GatewayWorkerTestingModule, testClientId } from 'nestjs-gateway-worker/testing';
import { repoPath } from './support/processes.js';

// ---- the README's example, as a user writes it ------------------------------------------------

@Injectable()
class RoomService {
  constructor(private readonly gateway: GatewayService) {}

  /** Puts a client in a room and tells the others, with the new head count. */
  async join(clientId: string, room: string): Promise<void> {
    await this.gateway.joinGroup(clientId, room);
    const members = await this.gateway.getClientCountByGroup(room);
    await this.gateway.sendToGroup(room, { type: 'joined', clientId, members }, clientId);
  }
}

describe('RoomService (a user-side unit test with GatewayWorkerTestingModule)', () => {
  it('tells the room who joined', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [GatewayWorkerTestingModule.forRoot()],
      providers: [RoomService],
    }).compile();
    const gateway = moduleRef.get(GatewayServiceDouble);
    const [alice, bob] = [testClientId(1), testClientId(2)];
    gateway.addClient(alice, { uid: 'alice', groups: ['lobby'] }).addClient(bob, { uid: 'bob' });

    await moduleRef.get(RoomService).join(bob, 'lobby');

    expect(gateway.calls('joinGroup')).toEqual([[bob, 'lobby']]);
    expect(gateway.sentTo(alice)).toEqual([{ type: 'joined', clientId: bob, members: 2 }]);
    expect(gateway.sentTo(bob)).toEqual([]);
    expect(await gateway.getClientIdListByGroup('lobby')).toEqual([alice, bob]);
  });
});

// ---- the double itself ------------------------------------------------------------------------

describe('GatewayServiceDouble', () => {
  /** Public members of a class in a source file, as `name(param, …)` (getters as `get name`). */
  function publicApi(file: string, className: string): string[] {
    const source = ts.createSourceFile(file, readFileSync(repoPath(file), 'utf8'), ts.ScriptTarget.Latest, true);
    const cls = source.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === className)!;
    const isPublic = (m: ts.ClassElement) =>
      !(ts.getCombinedModifierFlags(m as ts.Declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) && !(m.name && ts.isPrivateIdentifier(m.name));
    return cls.members
      .filter((m) => !ts.isConstructorDeclaration(m) && isPublic(m) && m.name)
      .map((m) => {
        const name = (m.name as ts.Identifier).text;
        if (ts.isMethodDeclaration(m)) return `${name}(${m.parameters.map((p) => p.name.getText(source)).join(', ')})`;
        return ts.isGetAccessor(m) ? `get ${name}` : name;
      })
      .filter((sig, i, all) => all.indexOf(sig) === i); // overload signatures
  }

  it('has exactly GatewayService\'s public methods with the same parameters, plus its test accessors (so the two cannot drift)', () => {
    const service = publicApi('lib/gateway.service.ts', 'GatewayService');
    const double = publicApi('lib/testing/gateway-service.double.ts', 'GatewayServiceDouble');
    const accessors = ['addClient(clientId, setup)', 'removeClient(clientId)', 'get clientIds', 'asCurrentClient(clientId, fn)', 'calls(method)', 'calls()', 'get deliveries', 'sentTo(clientId)', 'resetCalls()'];
    expect(service.length).toBeGreaterThan(40);
    expect(double.filter((m) => !accessors.includes(m)).sort()).toEqual([...service].sort());
    // And at run time: every method of the real service's prototype that the double lacks is private there.
    const names = (proto: object) => Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor');
    const publicNames = new Set(service.map((s) => s.replace(/\(.*$/, '').replace(/^get /, '')));
    for (const n of names(GatewayService.prototype)) if (publicNames.has(n)) expect(typeof (GatewayServiceDouble.prototype as unknown as Record<string, unknown>)[n], n).toBe('function');
  });

  it('records every call with its arguments and the current client', async () => {
    const g = new GatewayServiceDouble();
    const a = testClientId(1);
    g.addClient(a);
    await g.sendToAll('hi');
    await g.asCurrentClient(a, () => g.sendToCurrentClient('you', true));
    await g.getAllClientCount({ timeout: 10 });
    expect(g.calls().map((c) => [c.method, c.args, c.currentClient])).toEqual([
      ['sendToAll', ['hi', undefined, undefined, false], null],
      ['sendToCurrentClient', ['you', true], a],
      ['getAllClientCount', [{ timeout: 10 }], null],
    ]);
    expect(g.calls('sendToCurrentClient')).toEqual([['you', true]]);
    expect(g.deliveries).toEqual([
      { clientId: a, message: 'hi', raw: false, method: 'sendToAll' },
      { clientId: a, message: 'you', raw: true, method: 'sendToCurrentClient' },
    ]);
    g.resetCalls();
    expect(g.calls()).toEqual([]);
    expect(g.sentTo(a)).toEqual([]);
  });

  it('delivers sends to the model\'s clients: uid, group (twice for two listed groups), list, exclude', async () => {
    const [a, b, c] = [1, 2, 3].map(testClientId) as [string, string, string];
    const g = new GatewayServiceDouble()
      .addClient(a, { uid: 42, groups: ['x', 'y'] })
      .addClient(b, { uid: '42', groups: ['x'] })
      .addClient(c, { uid: 'u3' });
    await g.sendToUid(42, 'to-42');
    await g.sendToGroup(['x', 'y'], 'to-xy', b);
    await g.sendToAll('to-list', [a, c], c);
    expect(g.sentTo(a)).toEqual(['to-42', 'to-xy', 'to-xy', 'to-list']);
    expect(g.sentTo(b)).toEqual(['to-42']);
    expect(g.sentTo(c)).toEqual([]);
    expect(await g.sendToAll('none', [])).toBe(false);
    expect(await g.sendToUid('', 'x')).toBe(false);
  });

  it('answers queries from the model and changes it as a gateway would', async () => {
    const [a, b] = [testClientId(1), testClientId(2)];
    const g = new GatewayServiceDouble().addClient(a, { session: { n: 1, deep: { x: 1 } } }).addClient(b);
    expect(await g.bindUid(a, 7)).toBe(true);
    expect(await g.bindUid(b, '0')).toBe(false);
    expect(await g.joinGroup(a, 'room')).toBe(true);
    expect(await g.joinGroup(b, 'room')).toBe(true);
    expect(await g.getUidByClientId(a)).toBe('7');
    expect(await g.getClientIdByUid(7)).toEqual([a]);
    expect(await g.batchGetClientIdByUid(['7', 'nobody'])).toEqual({ 7: [a], nobody: [] });
    expect(await g.isUidsOnline([7, 8])).toEqual({ 7: true, 8: false });
    expect(await g.getAllGroupUidList()).toEqual({ room: ['7'] });
    expect(await g.getAllGroupClientIdCount()).toEqual({ room: 2 });
    expect(await g.getClientCountByGroup()).toBe(2);
    expect(await g.updateSession(a, { deep: { y: 2 } })).toBe(true);
    expect(await g.getSession(a)).toEqual({ n: 1, deep: { x: 1, y: 2 } });
    expect(await g.getClientSessionsByGroup('room')).toEqual({ [a]: { n: 1, deep: { x: 1, y: 2 } }, [b]: {} });
    await g.leaveGroup(b, 'room');
    expect(await g.getClientIdListByGroup('room')).toEqual([a]);
    await g.ungroup('room');
    expect(await g.getAllGroupIdList()).toEqual([]);
    await g.closeClient(a, 'bye');
    expect(g.sentTo(a)).toEqual(['bye']);
    expect(await g.isOnline(a)).toBe(false);
    expect(await g.getSession(a)).toBeNull();
    expect(await g.getAllClientIdList()).toEqual([b]);
  });

  it('rejects as the real service does: invalid client_ids, current-client methods outside a handler', async () => {
    const g = new GatewayServiceDouble();
    await expect(g.sendToClient('c1', 'x')).rejects.toBeInstanceOf(InvalidClientIdError);
    await expect(g.sendToAll('x', [testClientId(1), 'bad'])).rejects.toBeInstanceOf(InvalidClientIdError);
    await expect(g.sendToCurrentClient('x')).rejects.toBeInstanceOf(NoCurrentClientError);
    await expect(g.closeCurrentClient()).rejects.toBeInstanceOf(NoCurrentClientError);
    expect(() => g.addClient('nope')).toThrow(InvalidClientIdError);
  });

  it('GatewayWorkerTestingModule provides the double under the GatewayService token', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [GatewayWorkerTestingModule.forRoot()] }).compile();
    expect(moduleRef.get(GatewayService)).toBe(moduleRef.get(GatewayServiceDouble));
  });
});
