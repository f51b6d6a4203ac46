/**
 * An MQTT broker for `npm start` when no MQTT_URL is given: aedes in the launcher's
 * process (so it outlives a Node-RED restart), on 127.0.0.1:1883 when that port is
 * free, else on a free port. Sessions and QoS 1 messages are kept in memory: they
 * survive Node-RED restarts, not the launcher's.
 */
import { createServer, type Server } from 'node:net';

export interface EmbeddedBroker {
  url: string;
  port: number;
  /** True when 1883 was taken and another port was used. */
  movedFrom1883: boolean;
  stop(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(err);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve((server.address() as { port: number }).port);
    });
  });
}

export async function startEmbeddedBroker(host = '127.0.0.1', preferred = 1883): Promise<EmbeddedBroker> {
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  let port: number;
  try {
    port = await listen(server, preferred, host);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    port = await listen(server, 0, host);
  }
  return {
    url: `mqtt://${host}:${port}`,
    port,
    movedFrom1883: port !== preferred,
    stop: () =>
      new Promise<void>((resolve) => {
        // aedes ends its clients' connections; then the server can close
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}
