import { connect } from 'node:net';
import { GatewayQueryLink } from '../client/gateway-query.link.js';
import { ExtensionCommand, type GatewayStatusReply } from '../protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { GATEWAY_PROBE_EXT, type GatewayProbeReply } from '../protocol/gateway-probe.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { LineReader } from '../protocol/line.reader.js';
import { phpUnserialize } from '../protocol/php-serialize.js';
import { parseRegisterMessage, readAddresses, workerConnectLine } from '../protocol/register-message.js';
import { phpGatewayStats } from '../protocol/php-peer.stats.js';
import type { ProcessStats } from '../protocol/process-stats.js';
import { splitAddress } from '../utils/ip.util.js';

/**
 * What `status` needs to reach the cluster.
 *
 * @publicApi
 */
export interface ClusterStatusOptions {
  registerAddresses: string[];
  secretKey: string;
  timeout: number;
}

/**
 * The whole cluster, as the Register and every gateway describe it.
 *
 * @publicApi
 */
export interface ClusterStatus {
  gateways: ProcessStats[];
  workers: ProcessStats[];
  /** Gateways the Register lists that did not answer. */
  unreachable: string[];
}

/** Asks the first Register that answers for the gateway list (as PHP's GatewayClient does). */
export function fetchGatewayAddresses(options: ClusterStatusOptions): Promise<string[]> {
  const tryOne = (i: number, lastError: string): Promise<string[]> => {
    if (i >= options.registerAddresses.length) {
      return Promise.reject(new Error(`No Register answered (${options.registerAddresses.join(', ')}): ${lastError}. Is the cluster running, and is registerAddress right?`));
    }
    const { host, port } = splitAddress(options.registerAddresses[i]!)!;
    return new Promise<string[]>((resolve, reject) => {
      const socket = connect({ host, port });
      const reader = new LineReader();
      const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${options.timeout} ms`)), options.timeout);
      socket.on('connect', () => socket.write(workerConnectLine(options.secretKey)));
      socket.on('data', (chunk) =>
        reader.push(chunk, (line) => {
          const list = readAddresses(parseRegisterMessage(line)?.addresses);
          if (!list) return;
          clearTimeout(timer);
          socket.destroy();
          resolve(list);
        }),
      );
      socket.on('error', (err) => reject(err));
      socket.on('close', () => {
        clearTimeout(timer);
        reject(new Error('the Register closed the connection (wrong secret key?)'));
      });
    }).catch((err: Error) => tryOne(i + 1, err.message));
  };
  return tryOne(0, '');
}

/** What a gateway is, by its answer to the probe: TypeScript (with the commands it knows) or PHP. */
async function probeGateway(link: GatewayQueryLink, timeout: number): Promise<{ typescript: boolean; commands: number[] }> {
  const reply = phpUnserialize(await link.request(encodeGatewayPacket({ cmd: GatewayCommand.IS_ONLINE, flag: FLAG_BODY_IS_SCALAR, extData: Buffer.from(GATEWAY_PROBE_EXT) }), timeout));
  if (typeof reply === 'string' || Buffer.isBuffer(reply)) {
    try {
      const probe = JSON.parse(reply.toString()) as GatewayProbeReply;
      if (probe.implementation === 'typescript') return { typescript: true, commands: Array.isArray(probe.commands) ? probe.commands : [] };
    } catch {
      /* not ours: below */
    }
  }
  // PHP answers CMD_IS_ONLINE for connection 0 with `i:0;`, whatever the ext_data.
  return { typescript: false, commands: [] };
}

/**
 * Collects the status of every gateway and of the workers connected to them, across all hosts
 * the Register knows. Each gateway is first probed (CMD_IS_ONLINE for connection 0 with the probe's
 * ext_data, which every gateway answers): TypeScript gateways then get STATUS, a TypeScript
 * extension; PHP gateways only PHP's own CMD_GET_CLIENT_COUNT_BY_GROUP (their client count), so no
 * extension command ever reaches them.
 *
 * @publicApi
 */
export async function fetchClusterStatus(options: ClusterStatusOptions): Promise<ClusterStatus> {
  const addresses = await fetchGatewayAddresses(options);
  const gateways: ProcessStats[] = [];
  const workers = new Map<string, ProcessStats>();
  const unreachable: string[] = [];
  await Promise.all(
    addresses.map(async (address) => {
      const link = new GatewayQueryLink({ address, secretKey: options.secretKey, connectTimeout: options.timeout, maxPacketSize: 10_485_760 });
      try {
        const probe = await probeGateway(link, options.timeout);
        if (!probe.typescript || !probe.commands.includes(ExtensionCommand.STATUS)) {
          const count = phpUnserialize(await link.request(encodeGatewayPacket({ cmd: GatewayCommand.GET_CLIENT_COUNT_BY_GROUP, flag: FLAG_BODY_IS_SCALAR }), options.timeout));
          gateways.push(phpGatewayStats(address, typeof count === 'number' ? count : 0));
          return;
        }
        const reply = await link.request(encodeGatewayPacket({ cmd: ExtensionCommand.STATUS, flag: FLAG_BODY_IS_SCALAR }), options.timeout);
        const raw = phpUnserialize(reply);
        const data = JSON.parse(Buffer.isBuffer(raw) ? raw.toString() : String(raw)) as GatewayStatusReply;
        gateways.push(data.gateway);
        for (const w of data.workers) {
          const key = `${w.host}|${w.name}|${w.pid}`;
          const seen = workers.get(key);
          // A PHP worker is listed by each gateway it is connected to: count them.
          if (seen?.implementation === 'php') seen.connections += w.connections;
          else if (!seen) workers.set(key, w);
        }
      } catch {
        unreachable.push(address);
      } finally {
        link.close();
      }
    }),
  );
  const byHostName = (a: ProcessStats, b: ProcessStats) => a.host.localeCompare(b.host) || a.name.localeCompare(b.name, undefined, { numeric: true });
  return { gateways: gateways.sort(byHostName), workers: [...workers.values()].sort(byHostName), unreachable };
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)}M`;

/** The gateways' resumable clients, when any gateway has had one (`gateway.resumeWindow`). */
function resumeSummary(gateways: ProcessStats[]): string {
  const sum = (k: 'waiting' | 'bytes' | 'parked' | 'resumes' | 'handovers' | 'expiries') => gateways.reduce((n, g) => n + (g.resume?.[k] ?? 0), 0);
  if (sum('parked') + sum('waiting') + sum('bytes') === 0) return '';
  return `; resumable: ${sum('waiting')} waiting, ${mb(sum('bytes'))} held, ${sum('resumes')} resume(s), ${sum('handovers')} hand-over(s), ${sum('expiries')} expired`;
}

/**
 * PHP-style status table with a summary line.
 *
 * @publicApi
 */
export function formatClusterStatus(status: ClusterStatus): string {
  const head = ['host', 'pid', 'memory', 'listening', 'name', 'connections', 'send_fail', 'total_request', 'qps', 'state'];
  // A PHP peer reports nothing itself: its unknown figures show as "-".
  const known = (p: ProcessStats, text: string) => (p.implementation === 'php' ? '-' : text);
  const rows = [...status.gateways, ...status.workers].map((p) => [
    p.host,
    known(p, String(p.pid)),
    known(p, mb(p.memory)),
    p.listening,
    `${p.tier === 'gateway' ? 'gateway' : 'worker'} ${p.name}${p.implementation === 'php' ? ' (php)' : ''}`,
    String(p.connections),
    known(p, String(p.sendFailures)),
    known(p, String(p.totalRequests)),
    known(p, String(p.qps)),
    p.state,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('').trimEnd();
  const all = [...status.gateways, ...status.workers];
  const clients = status.gateways.reduce((n, g) => n + g.connections, 0);
  const php = all.filter((p) => p.implementation === 'php').length;
  const summary =
    `${status.gateways.length} gateway(s), ${status.workers.length} worker(s)${php ? ` (${php} PHP)` : ''} on ${new Set(all.map((p) => p.host)).size} host(s); ` +
    `${clients} client connection(s); ${all.reduce((n, p) => n + p.qps, 0)} req/s; memory ${mb(all.reduce((n, p) => n + p.memory, 0))}` +
    resumeSummary(status.gateways) +
    (status.unreachable.length ? `; UNREACHABLE: ${status.unreachable.join(', ')}` : '');
  return [line(head), ...rows.map(line), '-'.repeat(Math.min(120, widths.reduce((a, b) => a + b, 0))), summary].join('\n');
}
