/**
 * Every message the library logs or throws, as functions, so wording stays consistent and each
 * says what happened and what to do.
 */

export const packetTooShort = (len: number, min = 28) =>
  `Packet length ${len} is below the minimum of ${min} bytes: the peer does not speak this protocol or the stream is corrupt. The connection is closed.`;
export const packetTooLarge = (len: number, max: number) =>
  `Packet length ${len} exceeds the limit of ${max} bytes. The connection is closed; raise maxPackageSize if such packets are legitimate.`;
export const oversizedPacketSkipped = (tier: string, peer: string, cmd: number, connectionId: number, len: number, max: number) =>
  `${tier}: packet cmd ${cmd}${connectionId ? ` for connection ${connectionId}` : ''} from ${peer} is ${len} bytes, over the limit of ${max}; skipped, the link carries on. Raise innerMaxPackageSize if such packets are legitimate.`;
export const lineTooLong = (max: number) =>
  `Line of ${max} bytes or more without a newline. The connection is closed; raise maxPackageSize if such lines are legitimate.`;
export const invalidClientId = (id: unknown) =>
  `Invalid client_id ${JSON.stringify(id)}: a client_id is 20 hexadecimal characters (lanIp, lanPort, connection id), as given to your @OnConnect handler.`;
export const invalidOptions = (problems: string[]) =>
  `Invalid GatewayWorker options:\n  - ${problems.join('\n  - ')}\nFix the options passed to GatewayWorkerModule.forRoot()/forRootAsync().`;
export const noCurrentClient = (method: string) =>
  `${method}() needs a current client, but it was called outside a @OnConnect/@OnMessage/@OnClose handler (or outside a BusinessWorker). Use the variant that takes a client_id instead.`;
export const wrongSecretKey = (tier: string, peer: string, what: string) =>
  `${tier}: ${what} from ${peer} was refused: wrong secret key. Give every tier of the cluster the same secretKey.`;
export const unauthorizedPacket = (peer: string, cmd: number) =>
  `Gateway: unauthorized packet (cmd ${cmd}) from ${peer} before CMD_WORKER_CONNECT/CMD_GATEWAY_CLIENT_CONNECT; connection closed.`;
export const unknownCommand = (peer: string, cmd: number) =>
  `Gateway: unknown command ${cmd} from ${peer}; connection closed (the peer does not speak this GatewayProtocol).`;
export const registerBadRequest = (ip: string, line: string) =>
  `Bad request for Register service. Request info(IP:${ip}, Request Buffer:${line}). See http://doc2.workerman.net/register-auth-timeout.html`;
export const registerAuthTimeout = (peer: string) =>
  `Register: ${peer} did not authenticate (gateway_connect or worker_connect) within 10 s of connecting (auth timeout); connection closed. Check that the peer is a GatewayWorker gateway or worker.`;
export const registerNotLocal = (peer: string) =>
  `Register: refused ${peer}: protected mode is on (no secretKey), so only peers on this host may connect. To let other hosts in, set the same secretKey on every tier (Register, gateways, workers, GatewayClients), or protectedMode: false for a cluster on a private network without a key (e.g. a PHP cluster).`;
/** The line a refused peer is sent (short: a peer's RegisterLink logs it as it is). */
export const registerNotLocalReply = () =>
  `Register: protected mode: connections from other hosts are refused while no secretKey is set. Set secretKey on every tier, or protectedMode: false on the Register.`;
export const registerTooManyConnections = (ip: string, limit: number) =>
  `Register: ${ip} already has ${limit} connections (register.maxConnectionsPerIp); further connections from it are refused. Raise the limit if that host really runs more gateways, workers and GatewayClients.`;
export const registerLineTooLong = (peer: string, max: number) =>
  `Register: ${peer} sent ${max} bytes or more without a newline; connection closed. Register lines are small JSON objects: the peer does not speak the Register protocol.`;
export const registerStalledLine = (peer: string, ms: number) =>
  `Register: ${peer} left a line unfinished for more than ${ms} ms; connection closed (register.stalledLineTimeout).`;
export const registerNotAuthenticated = (peer: string, event: string) =>
  `Register: "${event}" from ${peer} before gateway_connect/worker_connect; connection closed. A peer authenticates first (the gateways and workers of this library, and PHP's, always do).`;
export const registerUnreachable = (tier: string, address: string, reason: string) =>
  `${tier}: cannot reach the Register at ${address} (${reason}); retrying every second. Start the register tier or fix registerAddress.`;
export const gatewayUnreachable = (address: string, reason: string) =>
  `Cannot reach gateway ${address} (${reason}). Check that the gateway process is running and that its lanIp/startPort are reachable from here.`;
export const queryTimeout = (address: string, ms: number) =>
  `Gateway ${address} did not answer within ${ms} ms. Its part of the result is missing; raise queryTimeout if the gateway is just slow.`;
export const partialResult = (method: string, failed: string[]) =>
  `${method}(): gateways ${failed.join(', ')} did not answer; the result is partial.`;
export const noGatewayKnown = (method: string) =>
  `${method}(): no gateway is known yet (the Register has not sent any address). Wait for the cluster to start, or check registerAddress.`;
export const noWorkerConnected = (clientId: string) =>
  `Gateway: no BusinessWorker can take the events of client ${clientId}; they wait (workerWaitWindow), or the client is closed when the window is 0. Start the business tier.`;
export const flowControlPaused = (clientId: string, events: number, bytes: number) =>
  `Gateway: client ${clientId} has ${events} event(s) (${bytes} bytes) in flight to its worker (maxEventsInFlight/maxBytesInFlight); its socket is not read until the worker catches up.`;
export const workerHung = (worker: string, silentMs: number, outstanding: number) =>
  `Gateway: BusinessWorker ${worker} sent nothing for ${silentMs} ms with ${outstanding} event(s) outstanding (workerHangTimeout): declared hung, its link is closed, its events are counted as lost and its clients move to the other workers. Find what blocks that worker's event loop (a stopped process, a CPU-bound handler).`;
export const workerLinkFull = (worker: string, dropped: number) =>
  `Gateway: the send buffer to worker ${worker} (a worker without flow control) is full: events are dropped (${dropped} so far, counted in send_fail). Raise sendToWorkerBufferSize or add workers.`;
export const eventTooLarge = (clientId: string, size: number, max: number) =>
  `Gateway: an event of client ${clientId} would be a ${size}-byte internal packet, over innerMaxPackageSize (${max}): its session is too large. The client is closed; keep sessions small or raise innerMaxPackageSize.`;
export const duplicateWorker = (key: string, peer: string) =>
  `Gateway: a BusinessWorker connection from ${peer} uses the name ${key}, which is already connected; refused (the running worker keeps its link). Give each worker process a unique name per host.`;
export const unreadReplies = (peer: string, bytes: number) =>
  `Gateway: ${peer} does not read its query replies (${bytes} bytes queued); connection closed.`;
export const slowClientDropped = (clientId: string, limit: number) =>
  `Gateway: client ${clientId} reads too slowly (send buffer at ${limit} bytes): messages to it are dropped and counted in send_fail (slowClientPolicy 'drop').`;
export const clientMessageRejected = (clientId: string | null, peer: string, reason: string) =>
  `Gateway: ${clientId ? `client ${clientId}` : 'a websocket client'} (${peer}): ${reason}; connection closed.`;
export const innerPeerNotLocal = (peer: string) =>
  `Gateway: internal-port connection from ${peer} refused: protected mode is on (no secretKey), so only peers on this host may connect. To let workers and GatewayClients on other hosts in, set the same secretKey on every tier, or protectedMode: false for a cluster on a private network without a key (e.g. a PHP cluster).`;
export const innerPeerRefused = (peer: string, reason: string) =>
  `Gateway: internal-port connection from ${peer} refused: ${reason}.`;
export const handlerFailed = (event: string, clientId: string, err: unknown) =>
  `${event} handler failed for client ${clientId}: ${describeError(err)}`;
export const eventNotFinished = (clientId: string, err: unknown) =>
  `The event of client ${clientId} ended with an error after its handlers (session write-back or confirmation to the gateway): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}. The client's next events run.`;
export const guardDenied = (event: string, clientId: string) =>
  `${event} for client ${clientId} was denied by a guard${event === 'onConnect' ? '; the connection is closed' : ''}.`;
export const sessionNotWritable = (clientId: string, reason: string) =>
  `Session of client ${clientId} was not written back: ${reason}. Keep sessions to plain objects, arrays, strings, numbers, booleans and null.`;
export const sessionMergeFailed = (clientId: string, reason: string) =>
  `Gateway: updateSession for client ${clientId} failed (${reason}); the old session is kept.`;
export const invalidBody = (cmd: number, peer: string) =>
  `Gateway: cmd ${cmd} from ${peer} carries a serialized body that is not a string; dropped (a PHP gateway would crash here).`;
export const invalidExtJson = (cmd: number, peer: string) =>
  `Gateway: cmd ${cmd} from ${peer} has invalid JSON in ext_data; ignored.`;
export const listenFailed = (tier: string, address: string, reason: string) =>
  `${tier} cannot listen on ${address}: ${reason}. Choose a free port or stop the process holding it.`;
export const serverNotListening = (what: string) =>
  `${what} is not available yet: it exists once the microservice has started (after app.listen()).`;
export const registerUnavailable = (reasons: string[]) =>
  `No Register is reachable (${reasons.join('; ')}), so the gateway list is unknown and calls that reach every gateway cannot run. ` +
  `Start the register tier, or check registerAddress and secretKey (a Register closes the link of a client with a wrong secretKey). ` +
  `Calls for one client_id still go straight to its gateway; the Register is retried every second.`;
export const gatewaySendFailed = (address: string, reason: string) =>
  `GatewayClient: cannot reach gateway ${address} (${reason}); commands for it are dropped (the call resolves to false) until it is reachable again.`;
export const gatewayReachableAgain = (address: string) => `GatewayClient: gateway ${address} is reachable again.`;
export const tlsFileUnreadable = (option: string, path: string, reason: string) =>
  `Gateway TLS: cannot read ${option} file "${path}" (${reason}). Give the path of a PEM file this process can read, or the PEM contents themselves.`;
export const tlsCertificateUnusable = (option: string, reason: string) =>
  `Gateway TLS: the certificate material in ${option} is not usable: ${reason}. Check that the key matches the certificate and that the passphrase is right.`;
export const webSocketConnectTimedOut = (clientId: string, worker: string, ms: number) =>
  `Gateway: worker ${worker} gave no @OnWebSocketConnect verdict for ${clientId} within ${ms} ms; the handshake is refused with 503. Make the handler faster or raise gateway.webSocketConnectTimeout.`;
export const webSocketConnectRejected = (event: string, clientId: string, status: number, reason: string) =>
  `${event} rejected client ${clientId} with HTTP ${status}${reason ? ` (${reason})` : ''}; the websocket is not opened.`;
export const webSocketConnectKicked = (event: string, clientId: string, status: number) =>
  `${event} rejected client ${clientId} with HTTP ${status}, but its gateway (PHP, or one that does not hold handshakes) had already accepted the websocket: the connection is closed instead.`;
export const invalidVerdict = (peer: string) =>
  `Gateway: malformed websocket verdict from ${peer}; the handshake it refers to is refused with 500.`;
export const workerWaitExceeded = (clientId: string, reason: string, events: number, policy: 'close' | 'drop') =>
  `Gateway: client ${clientId}: ${reason}; ${events} waiting event(s) dropped${policy === 'close' ? ' and the client closed' : ''} (workerWaitPolicy '${policy}'). Start more business workers, or raise workerWaitWindow.`;
export const noGatewayFound = (worker: string, seconds: number, known: string[], registers: string[]) =>
  `BusinessWorker ${worker} has found no gateway after ${seconds} s: ${known.length ? `the Register lists ${known.join(', ')} but none accepted this worker (secret key? firewall? lanIp?)` : `no Register (${registers.join(', ')}) has announced a gateway`}. Check registerAddress and secretKey on every tier.`;
export const slowClientClosed = (clientId: string, limit: number) =>
  `Gateway: client ${clientId} reads too slowly (send buffer at ${limit} bytes); closed (slowClientPolicy 'close'). Raise sendToClientBufferSize or use slowClientPolicy 'drop' to keep such clients.`;
export const stalledFrame = (who: string, ms: number) =>
  `Gateway: ${who} left a frame half-sent for more than ${ms} ms; closed (stalledFrameTimeout).`;
export const tooManyConnections = (ip: string, limit: number) =>
  `Gateway: ${ip} already has ${limit} connections (maxConnectionsPerIp); further connections from it are refused.`;
export const eventTimedOut = (handler: string, clientId: string, ms: number) =>
  `${handler} for client ${clientId} has not settled after ${ms} ms; the client's next events run now (eventTimeout). Find what the handler waits for.`;
export const eventsLost = (worker: string, n: number) =>
  `Gateway: BusinessWorker ${worker} left (disconnected or declared hung) with ${n} event(s) it had received but not confirmed handling; they are lost (counted in gateway_worker_events_lost_total). Stop workers with SIGTERM (or gateway-worker reload) so they drain instead.`;

// ---- Nest's pipeline for gateway events, @nestjs/websockets gateways on the cluster ----------

/** What an exception says, with an HttpException's details (ValidationPipe's constraint messages). */
export const describeError = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err);
  const response = (err as { getResponse?: () => unknown }).getResponse?.();
  const details = response !== null && typeof response === 'object' ? (response as { message?: unknown }).message : undefined;
  const list = Array.isArray(details) ? details.map(String) : typeof details === 'string' && details !== err.message ? [details] : [];
  return list.length ? `${err.message}: ${list.join('; ')}` : (err.stack ?? err.message);
};
export const messageHandlerFailed = (handler: string, clientId: string, err: unknown) =>
  `${handler} handler failed for client ${clientId}: ${describeError(err)} (the message's other handlers still run)`;
export const messageHandlerDenied = (handler: string, clientId: string) =>
  `${handler} was denied by a guard for a message of client ${clientId}; the message's other handlers still run.`;
export const replyFailed = (handler: string, clientId: string, err: unknown) =>
  `The reply of ${handler} to client ${clientId} could not be sent: ${err instanceof Error ? err.message : String(err)}.`;
export const requestScopedEventsClass = (className: string) =>
  `Cannot register the handlers of ${className}: it is request-scoped or depends on a request-scoped provider, and gateway events have no request. ` +
  `Make it and its dependencies default-scoped (resolve a scoped provider per event with ModuleRef.resolve() if you need one).`;
export const invalidJsonPayload = (reason: string) => `The message is not valid JSON (${reason}).`;
export const unroutedMessage = (clientId: string, why: string) =>
  `Message of client ${clientId} ignored: ${why}, and no @OnMessage handler takes unrouted messages.`;
export const wsAdapterInstalled = () =>
  `@WebSocketGateway classes are served on the GatewayWorker cluster by GatewayWsAdapter: their clients are the gateways' clients, handled in the BusinessWorker tier (no socket is opened here). ` +
  `To serve it on this process's own sockets instead, call app.useWebSocketAdapter() with another adapter before listen()/init().`;
export const wsRouteFailed = (clientId: string, event: string, err: unknown) =>
  `The "${event}" handler's reply stream for client ${clientId} failed: ${describeError(err)}.`;
export const wsHookFailed = (hook: string, clientId: string, err: unknown) =>
  `A @WebSocketGateway ${hook} hook threw for client ${clientId}: ${describeError(err)}.`;
export const subscribeMessageOutsideGateway = (handler: string) =>
  `${handler} has @SubscribeMessage() but its class is not a @WebSocketGateway(): it is never called. Add @WebSocketGateway() to a class of its own (a @GatewayEvents class takes @OnMessage()).`;
export const foreignParamDecorators = (handler: string) =>
  `${handler} has parameter decorators an @OnConnect/@OnMessage/@OnClose handler does not fill (@MessageBody, @ConnectedSocket, @Ack, @Body…): those parameters are undefined. Use @Payload(), @ClientId(), @Session() and @Ctx(), or make the class a @WebSocketGateway().`;
export const resumeBufferFull = (clientId: string, parked: boolean, clientCap: number, totalCap: number) =>
  parked
    ? `Gateway: client ${clientId}, waiting to resume, has more unacknowledged messages than the resume buffer holds (resumeBufferSize ${clientCap}, resumeTotalBufferSize ${totalCap} bytes); closed for good (@OnClose runs). Raise the buffer sizes or shorten resumeWindow.`
    : `Gateway: client ${clientId} acknowledges too slowly (resumeBufferSize ${clientCap}, resumeTotalBufferSize ${totalCap} bytes): it can no longer resume; its messages still go out. Raise the buffer sizes, or make the client ack (the SDK does).`;
export const resumeExpired = (clientId: string, window: number) =>
  `Gateway: client ${clientId} did not come back within the resume window (${window} ms); closed for good (@OnClose runs).`;
export const resumeRefused = (clientId: string, reason: string) =>
  `Gateway: a client could not resume ${clientId}: ${reason}; it starts over with a new client_id.`;
// Why a resume is not granted (the client is told in its welcome's `reason`, and starts over).
export const resumeNotKept = () => 'it is not kept here (closed for good, its window passed, or it never was resumable)';
export const resumeTokenMismatch = () => 'the resume token does not match';
export const resumeCountMismatch = (received: number, sent: number, acked: number) =>
  `the client says it received ${received} messages; the gateway sent ${sent} and holds those after ${acked}`;
export const handoverNoAnswer = (gateway: string, why: string) => `gateway ${gateway} did not answer (${why}): it is gone or unreachable`;
export const handoverConnectionClosed = () => 'the new connection closed during the hand-over';
export const handoverRefusedHere = () => 'this gateway refused the connection';
export const handoverFailed = (gateway: string, why: string) => `the hand-over from gateway ${gateway} failed: ${why}`;
export const sdkNoWebSocket = () => 'No WebSocket implementation: pass { WebSocket } (in Node 20: import { WebSocket } from "ws").';
export const sdkRequestTimedOut = (event: string, ms: number) =>
  `No reply to request "${event}" within ${ms} ms. Is a @SubscribeMessage('${event}') handler serving it, and does it return a value? Raise { timeout } for slow handlers.`;
export const sdkDisconnected = (event: string) =>
  `The connection broke before request "${event}" was answered; the request may or may not have been handled. Retry it when the client is open again if it is safe to repeat.`;
export const sdkClosed = () => `The client was closed with close(); create a new one (or call connect() again) to talk to the gateway.`;
export const sdkRequestFailed = (event: string, message: string) => `Request "${event}" failed at the server: ${message}.`;

// ---- Option problems: each one line of the GatewayWorkerOptionsError thrown at startup. ----

export const optionNotPositiveInt = (name: string, got?: unknown, unit?: string) =>
  `${name} must be a positive integer${unit ? ` (${unit})` : ''}${got !== undefined ? `, got ${JSON.stringify(got)}` : ''}`;
export const optionNotNonNegativeInt = (name: string, got?: unknown, unit?: string) =>
  `${name} must be an integer ≥ 0${unit ? ` (${unit})` : ''}${got !== undefined ? `, got ${JSON.stringify(got)}` : ''}`;
export const optionNotOneOf = (name: string, choices: readonly string[]) => `${name} must be ${choices.map((c) => `'${c}'`).join(' or ')}`;
export const optionNotIPv4 = (name: string, value: unknown, why?: string) => `${name} "${String(value)}" must be an IPv4 literal${why ? `: ${why}` : ''}`;
export const registerAddressEmpty = () => 'registerAddress is empty; give at least one "host:port" of a Register';
export const registerAddressInvalid = (address: unknown) => `registerAddress ${JSON.stringify(address)} is not "host:port" with a port of 1-65535`;
export const registerListenInvalid = (listen: unknown) => `register.listen "${String(listen)}" is not "text://host:port" with a port of 0-65535`;
export const secretKeyNotString = () => 'secretKey must be a string';
export const listenMissing = () => 'gateway.listen is missing; give e.g. "websocket://0.0.0.0:7272"';
export const listenNotString = (uri: unknown) => `gateway.listen: ${JSON.stringify(uri)} is not a string like "websocket://0.0.0.0:7272"`;
export const listenWithoutProtocol = (uri: string, protocols: readonly string[]) =>
  `gateway.listen: "${uri}" has no protocol; write it as "<protocol>://<host>:<port>" with protocol ${protocols.join(', ')}`;
export const listenUnknownProtocol = (scheme: string, uri: string, protocols: readonly string[]) =>
  `gateway.listen: unknown protocol "${scheme}" in "${uri}"; use one of ${protocols.join(', ')}`;
export const listenWithoutPort = (uri: string) => `gateway.listen: "${uri}" has no valid port (0-65535; 0 lets the OS choose)`;
export const startPortInvalid = (startPort: unknown) => `gateway.startPort ${JSON.stringify(startPort)} is not a port (1-65535, or 0 for OS-chosen)`;
export const lanPortOutOfRange = (port: number) => `gateway.startPort + processIndex (${port}) is beyond 65535`;
export const tlsNotObject = () => 'gateway.tls must be an object like { cert: "/path/cert.pem", key: "/path/key.pem" }';
export const tlsSourceInvalid = (key: string) => `gateway.tls.${key} must be a file path or the contents (string or Buffer)`;
export const tlsIncomplete = () => 'gateway.tls needs cert and key (or pfx)';
export const tlsUnused = () =>
  `gateway.tls is set but no listener uses TLS: write "wss://…" or "<protocol>+tls://…" in gateway.listen, or set gateway.transport to 'ssl'`;
export const tlsMissing = (uri: string) => `gateway.listen "${uri}" uses TLS but gateway.tls (cert and key) is missing`;
export const trustedProxyInvalid = (problem: string) => `gateway.trustedProxies: ${problem}`;
export const pingIntervalInvalid = () => 'gateway.pingInterval must be a number of seconds ≥ 0 (0 turns the heartbeat off)';
export const pingDataInvalid = () => 'gateway.pingData must be a string or a Buffer';
export const metricsPortInvalid = () => 'metrics.port must be a port (0-65535)';
export const workerNameInvalid = () => 'businessWorker.name must be a non-empty string without ":"';

// ---- PHP serialize (lib/protocol): what went wrong with a value or with serialized bytes. ----

export const phpSerializeFailed = (path: string, problem: string, hint: string) => `Cannot PHP-serialize ${path}: found ${problem}. ${hint}`;
export const phpUnserializeInvalid = (at: number, expected: string, found: string) =>
  `Invalid PHP serialized data at byte ${at}: expected ${expected}, found ${found}. ` +
  'The input is not complete, well-formed PHP serialize() output; drop it (or keep the previous value) and check what produced it.';
export const phpUnserializeInputType = (type: string) => `phpUnserialize() needs a Buffer or a string, got ${type}.`;
export const phpUnserializeTooDeep = () => 'PHP serialized data nests too deeply for the remaining call stack. Drop it, or lower maxDepth.';
export const phpUnserializeMaxDepth = (limit: number, got: unknown) => `maxDepth must be an integer from 1 to ${limit}, got ${String(got)}.`;
export const phpKeyNotInt64 = (key: number) => `PHP array key ${key} is not an integer in the signed 64-bit range. Use an integer or a string key.`;
export const phpKeyOutOfRange = (key: bigint) => `PHP array key ${key} is outside the signed 64-bit range. Use a string key.`;
export const phpKeyWrongType = (type: string) => `A PHP array key must be a string or an integer, got ${type}.`;
export const sessionMergeUndecodable = (which: string, reason: string) => `UPDATE_SESSION: the ${which} cannot be decoded. ${reason}`;
export const sessionMergeNotArray = (which: string, type: string) =>
  `UPDATE_SESSION: the ${which} decodes to ${type}, not an array, so it cannot be merged. Keep the old session and fix the sender.`;

// gateway-worker CLI (lib/cli/)
export const cliUsageProblem = (problem: string, usage: string) => `${problem}\n\n${usage}`;
export const cliUnknownCommand = (command: string, known: string[], usage: string) =>
  `Unknown command "${command}" (commands: ${known.join(', ')}, help).\n\n${usage}`;
export const cliMissingCommand = (usage: string) => `No command given.\n\n${usage}`;
export const cliUnexpectedArgument = (arg: string, help: string) => `Unexpected argument "${arg}".\n\n${help}`;
export const cliOptionNotForCommand = (option: string, command: string, help: string) =>
  `Option --${option} does not apply to "${command}".\n\n${help}`;
export const cliEmptyOptionValue = (option: string) => `Option --${option} needs a non-empty value.`;
export const tierNotReady = (tier: string, index: number, pid: number, ms: number) =>
  `${tier} ${index} (pid ${pid}) did not become ready within ${ms} ms; see its log. An entry file that boots its tier ` +
  `with NestFactory.createMicroservice()/connectMicroservice() instead of startGatewayWorkerTier() must call signalGatewayWorkerReady() once listen() has resolved.`;
export const metricsEndpoint = (host: string, port: number, path: string) =>
  `Prometheus metrics on http://${host}:${port}${path} (health checks: /healthz, /readyz)`;
export const healthEndpoints = (host: string, port: number) => `Health checks on http://${host}:${port}/healthz and /readyz`;
export const registerRefusedReason = () => 'the Register closed the link right after the announcement: it refuses the secret key';
export const registerRefused = (tier: string, address: string) =>
  `${tier}: the Register at ${address} refuses this peer: it closes the link right after the announcement, which it does for a wrong secret key ` +
  `(the Register logs the refusal, naming this peer). Give every tier of the cluster the same secretKey. Retrying every second; logged again only when this changes.`;

// ---- The gateway's own lifecycle and its workers ----------------------------------------------

export const gatewayOptionsMissing = () =>
  'GatewayServer needs the `gateway` options (listen, lanIp, startPort…) in GatewayWorkerModule.forRoot().';
export const gatewayListening = (name: string, address: string, listeners: string[], registers: string[]) =>
  `${name} ${address} listening on ${listeners.join(', ')}; registering with ${registers.join(', ')}`;
export const innerLinkBroken = (peer: string, reason: string) => `Gateway: internal link ${peer}: ${reason}; connection closed.`;
export const notARegisteredWorker = (cmd: number, peer: string) =>
  `Gateway: cmd ${cmd} from ${peer}, which is not a registered worker; connection closed.`;
export const workerKeyMissing = (peer: string) => `Gateway: CMD_WORKER_CONNECT from ${peer} without a worker_key; connection closed.`;
export const workerConnected = (key: string, total: number) => `BusinessWorker ${key} connected (${total} in all)`;
export const workerLeft = (key: string, drained: boolean, left: number) =>
  `BusinessWorker ${key} ${drained ? 'finished draining and left' : 'disconnected'} (${left} left)`;
export const workerStatsUnreadable = (key: string) => `Gateway: unreadable WORKER_STATS from ${key}; ignored.`;
export const workerDraining = (key: string) => `BusinessWorker ${key} is draining: its clients' new events wait until it has finished`;
export const workerDeclaredHung = (worker: string, gateway: string, silentMs: number | null, outstanding: number | null) =>
  `BusinessWorker ${worker}: gateway ${gateway} declared this worker hung (it heard nothing from it for ${silentMs === null ? 'too long' : `${silentMs} ms`} while events were outstanding), cut its link, ` +
  `and counted ${outstanding === null ? 'the outstanding' : outstanding} event(s) as lost; the clients went to other workers. Find what blocked this process (stopped, a synchronous handler, a CPU-bound task).`;
export const eventQueueFull = (worker: string, max: number, times: number) =>
  `BusinessWorker ${worker}: ${max} events queued (businessWorker.maxQueuedEvents); reading from the gateways is paused until half of them are handled ` +
  `(${times} time(s) since the last such message). The gateways keep the events meanwhile. Handlers are slower than the traffic: make them faster, or start more business workers.`;
export const packetTooLargeToSend = (method: string, size: number, max: number) =>
  `${method}(): the command would be a ${size}-byte packet, over the ${max}-byte limit of the internal links (innerMaxPackageSize); nothing was sent. ` +
  `Send smaller messages (split them), or raise innerMaxPackageSize on every tier of the cluster.`;
export const gatewayLinkFull = (worker: string, gateway: string, dropped: number, limit: number) =>
  `BusinessWorker ${worker}: the link to gateway ${gateway} has ${limit} bytes waiting to be written (businessWorker.sendToGatewayBufferSize); ` +
  `${dropped} command(s) dropped since the last such message (all counted in send_fail). The gateway reads too slowly: check its load, or raise sendToGatewayBufferSize.`;
export const workerStarted = (worker: string, registers: string[]) => `BusinessWorker ${worker} started; asking ${registers.join(', ')} for gateways`;
export const workerConnectedTo = (worker: string, gateway: string) => `BusinessWorker ${worker} connected to gateway ${gateway}`;
export const workerLostGateway = (worker: string, gateway: string, reason: string) => `BusinessWorker ${worker} lost gateway ${gateway} (${reason}); reconnecting every second while the Register lists it.`;
export const workerRefusedByGateway = (worker: string, gateway: string) =>
  wrongSecretKey(`BusinessWorker ${worker}`, `gateway ${gateway}`, 'our worker connection') + ' (the gateway closed it before sending anything; retrying every second)';
export const unreadableGatewayInfo = (worker: string, gateway: string) =>
  `BusinessWorker ${worker}: unreadable GATEWAY_INFO from gateway ${gateway}; its clients' protocols stay unknown (ctx.protocol is undefined). Run the same version on gateways and workers.`;
export const handoverLinkFailed = (gateway: string, why: string) => `the link to gateway ${gateway} failed: ${why}`;
export const handoverTimedOut = (gateway: string, ms: number) => `gateway ${gateway} did not answer within ${ms} ms`;
