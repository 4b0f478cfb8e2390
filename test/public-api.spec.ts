/**
 * The published API, checked on the build output (`npm run build` first, as `npm test` does):
 * - a consumer file importing `nestjs-gateway-worker` (resolved through package.json "exports" to
 *   `dist/lib/index.d.ts`) type-checks with `skipLibCheck: false`,
 *   so nothing a public declaration refers to was stripped (`stripInternal`) or left out;
 * - every export of every entry point in "exports" is tagged `@publicApi` at its declaration;
 * - the wire internals are not exported, and no `@internal` member is left in the declarations.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST_LIB = join(ROOT, 'dist', 'lib');
const INDEX_DTS = join(DIST_LIB, 'index.d.ts');

/** The declaration files of every entry point package.json "exports" publishes (`.`, `./testing`, …). */
const ENTRY_DTS: string[] = Object.values(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { types?: string }> }).exports,
)
  .map((target) => (typeof target === 'object' ? target.types : undefined))
  .filter((types): types is string => types !== undefined)
  .map((types) => join(ROOT, types));
/** A file that does not exist on disk: the compiler host below serves it. */
const CONSUMER = join(ROOT, 'test', '__consumer__.ts');

/** What an application written against the published types does with them. */
const CONSUMER_SOURCE = `
import { Module } from '@nestjs/common';
import {
  BusinessWorkerServer, ClientId, Ctx, fetchClusterStatus, formatClusterStatus, GATEWAY_WORKER_CONTEXT_TYPE,
  GATEWAY_WORKER_OPTIONS, GatewayEventContext, GatewayEvents, GatewayServer, GatewayService, GatewayWorkerError,
  GatewayWorkerMetrics, GatewayWorkerModule, getGatewayEventContext, isGatewayWorkerContext, OnClose, OnConnect,
  OnMessage, OnWebSocketConnect, PartialResultError, Payload, PhpOpaque, QueryTimeoutError, RegisterServer, Session,
  startGatewayWorkerTier, WebSocketConnectRequest,
  type ClientProtocolName, type ClusterStatus, type GatewaySession, type GatewayWorkerModuleOptions,
  type GatewayWorkerTier, type ProcessStats, type QueryOptions, type ResolvedGatewayWorkerOptions,
} from 'nestjs-gateway-worker';

const options: GatewayWorkerModuleOptions = {
  registerAddress: ['127.0.0.1:1236'],
  secretKey: 's3cr3t',
  gateway: { listen: ['text://0.0.0.0:8282', 'websocket://0.0.0.0:7272'], lanIp: '127.0.0.1', startPort: 2900, router: 'random' },
  businessWorker: { name: 'Chat', eventTimeout: 30_000 },
  metrics: { port: 9464 },
};

@GatewayEvents()
export class ChatEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnWebSocketConnect()
  async auth(@Payload() req: WebSocketConnectRequest, @ClientId() id: string, @Session() session: GatewaySession): Promise<void> {
    session.token = req.query.token;
    await this.gateway.bindUid(id, String(req.headers['x-uid'] ?? 'u1'));
  }

  @OnConnect()
  async onConnect(@Ctx() ctx: GatewayEventContext): Promise<void> {
    const protocol: ClientProtocolName | undefined = ctx.protocol;
    await this.gateway.sendToCurrentClient(\`Hello \${ctx.clientId} over \${protocol ?? '?'}\`);
  }

  @OnMessage()
  async onMessage(@ClientId() id: string, @Payload() message: string): Promise<void> {
    const query: QueryOptions = { timeout: 1000, partial: 'throw' };
    try {
      const count: number = await this.gateway.getAllClientCount(query);
      await this.gateway.sendToAll(\`\${id} said \${message} to \${count}\`);
    } catch (err) {
      if (err instanceof PartialResultError || err instanceof QueryTimeoutError) return;
      if (err instanceof GatewayWorkerError) throw new Error(err.name);
      throw err;
    }
  }

  @OnClose()
  async onClose(@ClientId() id: string): Promise<void> {
    const opaque: unknown = (await this.gateway.getSession(id))?.obj;
    if (opaque instanceof PhpOpaque) return;
    await this.gateway.sendToAll(\`\${id} logout\`);
  }
}

@Module({ imports: [GatewayWorkerModule.forRoot(options)], providers: [ChatEvents] })
export class ChatModule {}

@Module({
  imports: [GatewayWorkerModule.forRootAsync({ useFactory: () => options, global: false })],
})
export class AsyncModule {}

export async function main(tier: GatewayWorkerTier): Promise<void> {
  const app = await startGatewayWorkerTier(ChatModule, tier);
  const servers = [app.get(RegisterServer), app.get(GatewayServer), app.get(BusinessWorkerServer)];
  const resolved: ResolvedGatewayWorkerOptions = app.get(GATEWAY_WORKER_OPTIONS);
  const metrics: GatewayWorkerMetrics = app.get(GatewayWorkerMetrics);
  const status: ClusterStatus = await fetchClusterStatus({ registerAddresses: resolved.registerAddresses, secretKey: '', timeout: 1000 });
  const rows: ProcessStats[] = status.gateways;
  console.log(formatClusterStatus(status), rows.length, servers.length, metrics, GATEWAY_WORKER_CONTEXT_TYPE);
  console.log(isGatewayWorkerContext, getGatewayEventContext);
  await app.close();
}
`;

/** Names that are wire internals or parts of the servers: never exported from the root. */
const INTERNAL = [
  'writeHeader', 'encodeGatewayPacket', 'decodeGatewayPacket', 'encodeBody', 'decodeBody', 'GatewayPacketReader',
  'GatewayCommand', 'QUERY_COMMANDS', 'FLAG_BODY_IS_SCALAR', 'FLAG_NOT_CALL_ENCODE', 'HEAD_LEN',
  'ExtensionCommand', 'WorkerFeature', 'FLAG_AWAITS_VERDICT', 'FLAG_BINARY',
  'PING_LINE', 'gatewayConnectLine', 'workerConnectLine', 'broadcastAddressesLine', 'parseRegisterMessage',
  'encodeClientId', 'decodeClientId', 'LineReader', 'TextProtocol', 'FrameProtocol', 'webSocketFrameHeader',
  'phpSerialize', 'phpUnserialize', 'phpUnserializeExact', 'formatPhpFloat', 'PhpArray', 'arrayReplaceRecursive',
  'mergeSerializedSessions', 'webSocketConnectBody', 'phpParseStr', 'GatewayClient', 'GatewayHandlerRegistry',
  'resolveGatewayWorkerOptions',
];

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path, suffix) : path.endsWith(suffix) ? [path] : [];
  });
}

let program: ts.Program;

beforeAll(() => {
  expect(statSync(INDEX_DTS).isFile(), 'dist/lib/index.d.ts is missing: run `npm run build` first').toBe(true);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => f === CONSUMER || fileExists.call(host, f);
  host.readFile = (f) => (f === CONSUMER ? CONSUMER_SOURCE : readFile.call(host, f));
  host.getSourceFile = (f, language, ...rest) =>
    f === CONSUMER ? ts.createSourceFile(f, CONSUMER_SOURCE, language) : getSourceFile.call(host, f, language, ...rest);
  program = ts.createProgram([CONSUMER, ...ENTRY_DTS], options, host);
}, 60_000);

describe('the published declarations (dist/lib)', () => {
  it('a consumer type-checks against the published declarations, and so does every entry point', () => {
    // Only our files are checked (the declarations of @nestjs/* and Node are theirs to keep right).
    const ours = program.getSourceFiles().filter((f) => f.fileName === CONSUMER || f.fileName.startsWith(DIST_LIB));
    expect(ours.length).toBeGreaterThan(30);
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...ours.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
    ];
    const text = diagnostics.map((d) => {
      const where = d.file ? `${d.file.fileName.slice(ROOT.length)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(text).toEqual([]);
  });

  it('every export of every entry point is tagged @publicApi at its declaration', () => {
    const checker = program.getTypeChecker();
    expect(ENTRY_DTS).toContain(INDEX_DTS);
    for (const entry of ENTRY_DTS) {
      const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!);
      expect(exports.length, entry).toBeGreaterThan(0);
      const untagged = exports
        .filter((symbol) => {
          const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
          const tags = (target.declarations ?? []).flatMap((d) => ts.getJSDocTags(d).map((t) => t.tagName.text));
          return !tags.includes('publicApi');
        })
        .map((s) => s.name);
      expect({ entry: entry.slice(ROOT.length), untagged }).toEqual({ entry: entry.slice(ROOT.length), untagged: [] });
    }
  });

  it('the wire internals are not exported from the root', async () => {
    const api = (await import(join(DIST_LIB, 'index.js'))) as Record<string, unknown>;
    expect(INTERNAL.filter((name) => name in api)).toEqual([]);
    // And what users need is there.
    for (const name of ['GatewayWorkerModule', 'GatewayService', 'GatewayServer', 'startGatewayWorkerTier', 'GatewayWorkerError']) {
      expect(typeof api[name]).toBe('function');
    }
  });

  it('no @internal declaration is left in dist/lib/**/*.d.ts (stripInternal)', () => {
    const leftovers = filesUnder(DIST_LIB, '.d.ts').filter((f) => readFileSync(f, 'utf8').includes('@internal'));
    expect(leftovers.map((f) => f.slice(ROOT.length))).toEqual([]);
  });
});
