import type { INestMicroservice } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer, type GatewayWorkerModuleOptions } from '../lib/index.js';
import { ChatEvents } from '../sample/chat/chat.events.js';
import { NestChatGateway } from '../sample/chat/nest-chat.gateway.js';
import { boot, CapturingLogger } from './support/cluster.js';
import { ensureDebianPackage } from './support/debian.js';
import { generateCertificate, type TestCertificate } from './support/edge.js';
import { freePort, waitFor } from './support/net.js';
import { startNode } from './support/processes.js';

/**
 * The page's `document`, for the functions below that run inside the browser (the project's
 * TypeScript has no DOM lib; only what these functions touch is declared).
 */
interface PageElement {
  textContent: string | null;
  className: string;
  dataset: Record<string, string | undefined>;
}
declare const document: {
  body: PageElement;
  getElementById(id: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The client_id the page shows once greeted (null while disconnected). */
const clientIdOf = (page: Page) => page.evaluate(() => document.body.dataset.clientId ?? null);
/** Waits until the page is greeted with a client_id other than `not`; returns it. */
async function greetedId(page: Page, not: string | null = null, ms = 15_000): Promise<string> {
  await page.waitForFunction((old) => !!document.body.dataset.clientId && document.body.dataset.clientId !== old, not, { timeout: ms });
  return (await clientIdOf(page))!;
}
/** Waits until the page's chat log has this line. */
const seesLine = (page: Page, text: string) =>
  page.waitForFunction((t) => [...document.querySelectorAll('#log div')].some((d) => d.textContent === t), text, { timeout: 10_000 });
/** Types and sends a message as a person would. */
async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

describe('the chat page in headless Chromium (sample/web)', () => {
  const logger = new CapturingLogger();
  let cert: TestCertificate;
  let userDataDir: string;
  let context: BrowserContext;
  let web: ReturnType<typeof startNode>;
  let register: INestMicroservice;
  let worker: INestMicroservice;
  let gateway: INestMicroservice | null = null;
  let gatewayOptions: GatewayWorkerModuleOptions;
  let webPort: number;
  let wssPort: number;

  beforeAll(async () => {
    const executablePath = ensureDebianPackage('/usr/bin/chromium', 'chromium');
    cert = generateCertificate('browser');
    const registerAddress = `127.0.0.1:${await freePort()}`;
    const [wsPort, tlsPort] = [await freePort(), await freePort()];
    wssPort = tlsPort;
    webPort = await freePort();
    // Fixed public ports, so a restarted gateway is found where the pages left it.
    gatewayOptions = {
      registerAddress,
      gateway: { name: 'ChatGateway', listen: [`websocket://127.0.0.1:${wsPort}`, `wss://127.0.0.1:${tlsPort}`], startPort: 0, tls: { cert: cert.certPath, key: cert.keyPath }, resumeWindow: 10_000 },
    };
    register = await boot({ registerAddress, register: { listen: registerAddress } }, 'register', logger);
    gateway = await boot(gatewayOptions, 'gateway', logger);
    worker = await boot({ registerAddress, businessWorker: { name: 'ChatBusinessWorker' } }, 'business-worker', logger, [ChatEvents, NestChatGateway]);
    await waitFor(() => gateway!.get(GatewayServer).workerKeys.length === 1, 'the worker to connect');
    // The sample's own web server serves the page.
    web = startNode('dist/sample/web.main.js', { GW_WEB_PORT: String(webPort), GW_WS_PORT: String(wsPort) });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${webPort}/`).catch(() => null))?.status === 200, 'the chat page server', 15_000);
    userDataDir = mkdtempSync(join(tmpdir(), 'gw-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: CHROMIUM_ARGS, ignoreHTTPSErrors: true, timeout: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await web?.stop();
    for (const app of [worker, gateway, register]) await app?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    if (cert) rmSync(cert.dir, { recursive: true, force: true });
  }, 60_000);

  it('chats between two pages, over ws:// and wss://, shows the online count, and reconnects after the gateway restarts', async () => {
    const a = await context.newPage();
    const b = await context.newPage();
    // The third page talks to the gateway's own TLS listener.
    const c = await context.newPage();
    await a.goto(`http://127.0.0.1:${webPort}/`);
    await b.goto(`http://127.0.0.1:${webPort}/`);
    await c.goto(`http://127.0.0.1:${webPort}/?ws=wss://127.0.0.1:${wssPort}`);
    const [idA, idB, idC] = [await greetedId(a), await greetedId(b), await greetedId(c)];

    await say(a, 'hello from chromium');
    await seesLine(b, `${idA} said hello from chromium`);
    await seesLine(c, `${idA} said hello from chromium`);
    expect(await a.locator('#log .me').last().textContent()).toBe(`${idA} said hello from chromium`);
    await say(c, 'hello over wss');
    await seesLine(a, `${idC} said hello over wss`);
    await a.waitForFunction(() => document.getElementById('online')!.dataset.count === '3', null, { timeout: 10_000 });
    expect(await a.locator('#online').textContent()).toBe('online: 3');

    // The gateway goes away and comes back on the same ports: the pages reconnect by themselves.
    await gateway!.close();
    gateway = null;
    await a.waitForFunction(() => document.getElementById('status')!.className === 'down', null, { timeout: 10_000 });
    gateway = await boot(gatewayOptions, 'gateway', logger);
    const [newA, newB] = [await greetedId(a, idA, 30_000), await greetedId(b, idB, 30_000)];
    expect(newA).not.toBe(idA);
    await say(b, 'back again');
    await seesLine(a, `${newB} said back again`);
  }, 90_000);

  it('resumes a page whose websocket the server cut, without losing a message typed on another page meanwhile', async () => {
    const a = await context.newPage();
    const b = await context.newPage();
    await a.goto(`http://127.0.0.1:${webPort}/`);
    await b.goto(`http://127.0.0.1:${webPort}/`);
    const [idA, idB] = [await greetedId(a), await greetedId(b)];
    const server = gateway!.get(GatewayServer);
    // Killed from the server side: a TCP RST, no close frame (what a NAT or proxy timeout does).
    (server.tables.clients.get(parseInt(idA.slice(12), 16))!.socket as Socket).resetAndDestroy();
    await a.waitForFunction(() => document.getElementById('status')!.className === 'down', null, { timeout: 5_000 }).catch(() => undefined);
    await say(b, 'while you were away');
    await seesLine(b, `${idB} said while you were away`);
    await a.waitForFunction(() => document.body.dataset.resumes === '1', null, { timeout: 15_000 });
    await seesLine(a, `${idB} said while you were away`);
    expect(await clientIdOf(a)).toBe(idA);
    const lines = await a.evaluate(() => [...document.querySelectorAll('#log div')].map((x) => x.textContent));
    expect(lines.filter((t) => t === `${idB} said while you were away`)).toHaveLength(1);
    expect(lines).not.toContain(`${idA} logout`);
    await say(a, 'back without a new id');
    await seesLine(b, `${idA} said back without a new id`);
    expect(server.resumeStats.resumes).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('runs the Nest-style chat (@WebSocketGateway, ValidationPipe) next to the PHP-style one: ?chat=nest or the toggle', async () => {
    const d = await context.newPage();
    const e = await context.newPage();
    const php = await context.newPage();
    await d.goto(`http://127.0.0.1:${webPort}/?chat=nest`);
    await e.goto(`http://127.0.0.1:${webPort}/?chat=nest`);
    await php.goto(`http://127.0.0.1:${webPort}/`);
    const joined = (page: Page) => page.waitForFunction(() => !!document.body.dataset.joined, null, { timeout: 15_000 }).then(() => page.evaluate(() => document.body.dataset.joined!));
    const [nameD] = [await joined(d), await joined(e)];
    const idPhp = await greetedId(php);

    await say(d, 'hello nest');
    await seesLine(e, `${nameD} said hello nest`);
    expect(await d.locator('#log .me').last().textContent()).toBe(`${nameD} said hello nest`);
    // The PHP-style chat goes on beside it; neither chat shows the other's messages.
    await say(php, 'hello php');
    await seesLine(php, `${idPhp} said hello php`);
    await say(e, 'after php');
    await seesLine(d, `${await joined(e)} said after php`);
    expect(await d.evaluate(() => [...document.querySelectorAll('#log div')].map((x) => x.textContent))).not.toContain(`${idPhp} said hello php`);
    expect(await php.evaluate(() => [...document.querySelectorAll('#log div')].map((x) => x.textContent)).then((l) => l.some((t) => t?.includes('hello nest')))).toBe(false);

    // ValidationPipe refuses an invalid DTO: the page shows the constraint, nobody gets the message.
    await say(d, 'x'.repeat(201));
    await seesLine(d, 'error: text must be shorter than or equal to 200 characters');

    // The toggle switches the PHP-style page to the Nest-style chat.
    await php.check('#nest');
    await php.waitForURL(/chat=nest/);
    const namePhp = await joined(php);
    await seesLine(d, `${namePhp} joined`);
  }, 90_000);
});
