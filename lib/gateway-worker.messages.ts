/**
 * Every message the library logs or throws, as functions, so wording stays consistent and each
 * says what happened and what to do.
 */

export const packetTooShort = (len: number, min = 28) =>
  `Packet length ${len} is below the minimum of ${min} bytes: the peer does not speak this protocol or the stream is corrupt. The connection is closed.`;
export const packetTooLarge = (len: number, max: number) =>
  `Packet length ${len} exceeds the limit of ${max} bytes. The connection is closed; raise maxPackageSize if such packets are legitimate.`;
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
export const protocolErrorFrom = (tier: string, peer: string, reason: string) => `${tier}: ${peer}: ${reason}`;
export const registerBadRequest = (ip: string, line: string) =>
  `Bad request for Register service. Request info(IP:${ip}, Request Buffer:${line}). See http://doc2.workerman.net/register-auth-timeout.html`;
export const registerAuthTimeout = (peer: string) =>
  `Register: ${peer} sent nothing within 10 s of connecting (auth timeout); connection closed. Check that the peer is a GatewayWorker gateway or worker.`;
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
  `Gateway: no BusinessWorker connected; client ${clientId} is closed. Start the business tier.`;
export const handlerFailed = (event: string, clientId: string, err: unknown) =>
  `${event} handler failed for client ${clientId}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
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
  `Gateway: client ${clientId}: ${reason}; ${events} waiting event(s) dropped${policy === 'close' ? ' and the client closed' : ''} (workerWaitPolicy '${policy}'). Start more business workers, or raise workerWaitWindow/workerWaitBufferSize.`;
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
  `Gateway: BusinessWorker ${worker} disconnected with ${n} event(s) it had received but not confirmed handling; they are lost (counted in gateway_worker_events_lost_total). Stop workers with SIGTERM (or gateway-worker reload) so they drain instead.`;
export const workerDeclaredHung = (worker: string, gateway: string, silentMs: number | null, outstanding: number | null) =>
  `BusinessWorker ${worker}: gateway ${gateway} declared this worker hung (no event confirmed for ${silentMs === null ? 'too long' : `${silentMs} ms`} while events were outstanding) and closes the link; ` +
  `it counted ${outstanding === null ? 'the outstanding' : outstanding} event(s) as lost. Reconnecting. Find what blocked the event loop (a synchronous handler, a CPU-bound task) or what the handlers wait for.`;
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
