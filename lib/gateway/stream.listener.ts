import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TlsOptions } from 'node:tls';
import type { ListenAddress } from '../interfaces/resolved-options.interface.js';
import { FrameProtocol, RawTcpProtocol, TextProtocol, type StreamClientProtocol } from '../protocol/client-protocol.js';
import { FLAG_BODY_IS_SCALAR } from '../protocol/gateway-command.js';
import { ip2long } from '../utils/ip.util.js';
import type { ClientLifecycle } from './client-lifecycle.js';

const noop = () => undefined;

/**
 * A `text://`, `frame://` or `tcp://` listener — over TLS (`text+tls://`…) when `tls` is given,
 * as workerman's `transport = 'ssl'`. Each decoded message goes to the client's lifecycle; a
 * framing error closes that one connection.
 */
export function createStreamListener(clients: ClientLifecycle, l: ListenAddress, maxPackageSize: number, tls: TlsOptions | null): NetServer | TlsServer {
  const protocol: StreamClientProtocol = l.protocol === 'text' ? TextProtocol : l.protocol === 'frame' ? FrameProtocol : RawTcpProtocol;
  const onSocket = (socket: Socket) => {
    const client = clients.accept(socket, protocol.name, ip2long(socket.remoteAddress), socket.remotePort ?? 0);
    if (!client) return void socket.destroy();
    const decode = protocol.createDecoder(maxPackageSize);
    const onMessage = (message: Buffer) => clients.message(client, message, FLAG_BODY_IS_SCALAR);
    socket.on('data', (chunk: Buffer) => {
      try {
        decode.push(chunk, onMessage);
        // Noted for the gateway's stalled-frame sweep (no timer per connection).
        client.partialSince = decode.pending === 0 ? 0 : client.partialSince || Date.now();
      } catch (err) {
        clients.rejected(client, socket.remoteAddress, (err as Error).message);
        // Text framing closes gracefully on oversize (workerman); others cut at once.
        if (protocol.name === 'text') socket.end();
        else socket.destroy();
      }
    });
    socket.on('error', noop);
    socket.on('close', () => clients.closed(client));
    clients.open(client);
  };
  if (!tls) return createServer(onSocket);
  const server = createTlsServer(tls, onSocket);
  // A failed handshake (wrong protocol, untrusted certificate) only concerns that socket.
  server.on('tlsClientError', noop);
  return server;
}
