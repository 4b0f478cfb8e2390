import type { ClientProtocolName } from '../protocol/client-protocol.js';

/** A parsed public listen URI of a gateway. */
export interface ListenAddress {
  protocol: ClientProtocolName;
  host: string;
  port: number;
  /** The URI as given, for logs. */
  uri: string;
}

/** The module options after validation, with every default filled in. */
export interface ResolvedGatewayWorkerOptions {
  registerAddresses: string[];
  secretKey: string;
  queryTimeout: number;
  connectTimeout: number;
  maxPackageSize: number;
  innerMaxPackageSize: number;
  register: { host: string; port: number };
  gateway: {
    listen: ListenAddress[];
    name: string;
    lanIp: string;
    startPort: number;
    processIndex: number;
    count: number;
    lanPort: number;
    innerBindHost: string;
    sendToClientBufferSize: number;
    sendToWorkerBufferSize: number;
    router: 'least-connections' | 'random';
  } | null;
  businessWorker: {
    name: string;
    processIndex: number;
    count: number;
    sendToGatewayBufferSize: number;
  };
}
