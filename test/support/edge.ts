import type { INestMicroservice, Provider } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Socket } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import { GatewayServer, type GatewayOptions } from '../../lib/index.js';
import { boot, CapturingLogger } from './cluster.js';
import { ensureDebianPackage } from './debian.js';
import { freePort, TextClient, waitFor, WsClient } from './net.js';

/** A self-signed certificate made for one test run (openssl), valid for 127.0.0.1 and localhost. */
export interface TestCertificate {
  dir: string;
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

/** Generates a fresh EC key and a self-signed certificate for 127.0.0.1/localhost in a temp dir. */
export function generateCertificate(name = 'gw'): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), `${name}-tls-`));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  execFileSync(
    ensureDebianPackage('/usr/bin/openssl', 'openssl'),
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore', timeout: 20_000 },
  );
  return { dir, certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

// The shared test clients have private constructors (their factories connect in plain text); these
// wrap an already-connected TLS socket or websocket in the same inbox, unchanged.
const WsClientOf = WsClient as unknown as new (ws: WebSocket) => WsClient;
const TextClientOf = TextClient as unknown as new (socket: Socket) => TextClient;

/** A websocket client with `ws` client options (TLS trust, local address, headers). */
export function connectWs(url: string, options: ClientOptions = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve(new WsClientOf(ws)));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  });
}

/** The HTTP status a websocket upgrade is refused with, and the response body; throws if it opens. */
export function refusedUpgrade(url: string, options: ClientOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`the websocket to ${url} was accepted`));
    });
    ws.once('error', () => undefined);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
}

/** A line client over TLS (`text+tls://`). */
export function connectTlsText(port: number, options: ConnectionOptions = {}): Promise<TextClient> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...options }, () => resolve(new TextClientOf(socket)));
    socket.once('error', reject);
  });
}
