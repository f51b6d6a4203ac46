/**
 * A small MQTT 5 subscriber that acknowledges only when told to. MQTT.js sends each
 * PUBACK as soon as its handler returns and takes the next packet only then, so it
 * cannot hold acknowledgements while a batch is stored; this client, over the
 * `mqtt-packet` codec on a plain or TLS socket, hands every QoS 1 message on at once
 * and sends its PUBACK later, in arrival order (as the spec requires), through `ackThrough`.
 *
 * The session persists (Clean Start off, a Session Expiry Interval), so what was not
 * acknowledged when the connection or the process died is delivered again on the next
 * connect. The Receive Maximum it announces bounds how many messages the broker sends
 * before waiting for acknowledgements: the window a batch must fit in. A broker that
 * does not speak MQTT 5 (aedes) is spoken to in MQTT 3.1.1: the session persists
 * (Clean Session off) but the window is the broker's own, and unknown here.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqttPacket, { type IConnackPacket, type IPublishPacket, type Packet } from 'mqtt-packet';

export interface AckClientOptions {
  /** `mqtt://host:port` or `mqtts://host:port`. */
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** Topic filters, `$share/<group>/…` included. */
  topics: string[];
  /** How many unacknowledged messages the broker may send (MQTT 5 Receive Maximum). */
  receiveMaximum: number;
  /** How long the broker keeps the session while disconnected. */
  sessionExpirySeconds: number;
  keepaliveSeconds?: number;
  /** First and longest wait before reconnecting. */
  reconnectMs?: number;
  reconnectMaxMs?: number;
  /** TLS: verify the broker's certificate (default true). */
  rejectUnauthorized?: boolean;
}

/** A message as received: its connection and arrival number say where its PUBACK goes. */
export interface Incoming {
  topic: string;
  payload: Buffer;
  /** The connection it came on (acknowledgements never cross a reconnect). */
  connection: number;
  /** Arrival order on its connection, from 1. */
  seq: number;
  /** Redelivered by the broker (DUP). */
  dup: boolean;
}

export interface ConnectInfo {
  connection: number;
  sessionPresent: boolean;
  /** What the broker sends at most without acknowledgements: the Receive Maximum announced; 0 unknown (MQTT 3.1.1). */
  window: number;
  protocolVersion: 4 | 5;
}

interface Unacked {
  seq: number;
  /** The packet id to acknowledge; 0 for QoS 0 (nothing to send). */
  messageId: number;
}

/**
 * Events: `connect` (ConnectInfo), `message` (Incoming), `disconnect` (reason text,
 * with the unacknowledged count dropped: the broker sends those again), `error` (Error:
 * a refused connection or subscription; it goes on retrying).
 */
export class AckClient extends EventEmitter {
  private socket?: Socket;
  private connection = 0;
  private seq = 0;
  private unacked: Unacked[] = [];
  private nextId = 1;
  private reconnectDelay: number;
  private timer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private awaitingPong = false;
  private connected = false;
  private closing = false;
  /** MQTT 5 until a broker refuses it; then 3.1.1. */
  private protocol: 4 | 5 = 5;
  private connackSeen = false;

  constructor(private readonly options: AckClientOptions) {
    super();
    const url = new URL(options.url);
    if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:' && url.protocol !== 'tcp:') {
      throw new Error(`the broker URL must be mqtt://host:port or mqtts://host:port, not ${options.url}`);
    }
    if (!options.topics.length) throw new Error('subscribe to at least one topic');
    if (!(options.receiveMaximum >= 1 && options.receiveMaximum <= 65535)) {
      throw new Error(`the receive maximum must be 1 to 65535, not ${options.receiveMaximum}`);
    }
    this.reconnectDelay = options.reconnectMs ?? 1000;
  }

  /** Messages received on the current connection and not yet acknowledged. */
  get pending(): number {
    return this.unacked.length;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.closing = false;
    this.open();
  }

  /**
   * Sends the PUBACKs of every message of `connection` up to arrival `seq`, in order.
   * Messages of an earlier connection are not acknowledged: the broker sends them again.
   */
  ackThrough(connection: number, seq: number): number {
    if (connection !== this.connection || !this.connected) return 0;
    let n = 0;
    while (n < this.unacked.length && this.unacked[n].seq <= seq) n++;
    // one write for a batch's PUBACKs, and one splice: thousands of messages a batch
    const packets = this.unacked
      .splice(0, n)
      .filter((u) => u.messageId)
      .map(({ messageId }) =>
        this.encode(
          this.protocol === 5 ? { cmd: 'puback', messageId, reasonCode: 0 } : { cmd: 'puback', messageId },
        ),
      );
    if (packets.length) this.writeBuffer(Buffer.concat(packets));
    return n;
  }

  /** Disconnects, keeping the session (what was not acknowledged is delivered on the next connect). */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    this.stopPing();
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    if (this.connected) this.write({ cmd: 'disconnect', reasonCode: 0 });
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }

  private open(): void {
    const url = new URL(this.options.url);
    const tls = url.protocol === 'mqtts:';
    const port = Number(url.port) || (tls ? 8883 : 1883);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tls
      ? tlsConnect({
          host,
          port,
          servername: host,
          rejectUnauthorized: this.options.rejectUnauthorized !== false,
        })
      : netConnect({ host, port });
    this.socket = socket;
    const connection = ++this.connection;
    this.seq = 0;
    this.unacked = [];
    socket.setNoDelay(true);
    const protocolVersion = this.protocol;
    this.connackSeen = false;
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (packet: Packet) => this.onPacket(packet, connection));
    parser.on('error', (err: Error) =>
      this.drop(socket, `unreadable packet from the broker: ${err.message}`),
    );
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.once(tls ? 'secureConnect' : 'connect', () =>
      this.write({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion,
        clean: false,
        clientId: this.options.clientId,
        keepalive: this.options.keepaliveSeconds ?? 60,
        ...(this.options.username ? { username: this.options.username } : {}),
        ...(this.options.password ? { password: Buffer.from(this.options.password) } : {}),
        ...(protocolVersion === 5
          ? {
              properties: {
                sessionExpiryInterval: this.options.sessionExpirySeconds,
                receiveMaximum: this.options.receiveMaximum,
              },
            }
          : {}),
      }),
    );
    socket.on('error', (err) => this.drop(socket, err.message));
    socket.on('close', () => this.drop(socket, 'connection closed'));
  }

  private onPacket(packet: Packet, connection: number): void {
    if (connection !== this.connection) return;
    switch (packet.cmd) {
      case 'connack':
        return this.onConnack(packet, connection);
      case 'publish':
        return this.onPublish(packet, connection);
      case 'suback': {
        const refused = (packet.granted as number[]).filter((g) => g >= 0x80);
        if (refused.length) {
          this.emit('error', new Error(`the broker refused the subscription (reason ${refused[0]})`));
        }
        return;
      }
      case 'pingresp':
        this.awaitingPong = false;
        return;
      case 'disconnect':
        return this.drop(this.socket, `the broker disconnected (reason ${packet.reasonCode ?? 0})`);
      default:
        return;
    }
  }

  private onConnack(packet: IConnackPacket, connection: number): void {
    this.connackSeen = true;
    const code = packet.reasonCode ?? packet.returnCode ?? 0;
    // unsupported protocol version: 0x84 in MQTT 5, 1 from a broker answering in MQTT 3.1.1
    if (this.protocol === 5 && (code === 0x84 || code === 1)) return this.fallBack();
    if (this.protocol === 4 && code === 1) {
      this.emit('error', new Error('the broker speaks neither MQTT 5 nor MQTT 3.1.1'));
    }
    if (code !== 0) {
      this.emit('error', new Error(`the broker refused the connection (reason ${code})`));
      this.socket?.destroy();
      return;
    }
    this.connected = true;
    this.reconnectDelay = this.options.reconnectMs ?? 1000;
    this.write({
      cmd: 'subscribe',
      messageId: this.packetId(),
      subscriptions: this.options.topics.map((topic) =>
        this.protocol === 5 ? { topic, qos: 1, nl: false, rap: false, rh: 0 } : { topic, qos: 1 },
      ),
    });
    this.startPing();
    this.emit('connect', {
      connection,
      sessionPresent: Boolean(packet.sessionPresent),
      // the CONNACK's Receive Maximum bounds what we send; what the broker sends us is bounded by ours
      window: this.protocol === 5 ? this.options.receiveMaximum : 0,
      protocolVersion: this.protocol,
    } satisfies ConnectInfo);
  }

  private onPublish(packet: IPublishPacket, connection: number): void {
    const seq = ++this.seq;
    // QoS 2 is never granted (we subscribe at QoS 1); QoS 0 needs no acknowledgement
    this.unacked.push({ seq, messageId: packet.qos > 0 ? (packet.messageId ?? 0) : 0 });
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    this.emit('message', {
      topic: packet.topic,
      payload,
      connection,
      seq,
      dup: Boolean(packet.dup),
    } satisfies Incoming);
  }

  private packetId(): number {
    const id = this.nextId;
    this.nextId = id >= 65535 ? 1 : id + 1;
    return id;
  }

  private write(packet: Record<string, unknown>): void {
    this.writeBuffer(this.encode(packet));
  }

  private encode(packet: Record<string, unknown>): Buffer {
    return mqttPacket.generate(packet as unknown as Packet, { protocolVersion: this.protocol });
  }

  private writeBuffer(bytes: Buffer): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    socket.write(bytes);
  }

  private startPing(): void {
    this.stopPing();
    const every = (this.options.keepaliveSeconds ?? 60) * 500;
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) return this.drop(this.socket, 'the broker did not answer a ping');
      this.awaitingPong = true;
      this.write({ cmd: 'pingreq' });
    }, every);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  /** The broker does not speak MQTT 5: speak 3.1.1 from the next connection on. */
  private fallBack(): void {
    this.protocol = 4;
    this.reconnectDelay = 0;
    this.socket?.destroy();
  }

  /** The connection is gone: forget its unacknowledged messages (the broker resends them) and reconnect. */
  private drop(socket: Socket | undefined, reason: string): void {
    if (!socket || socket !== this.socket) return;
    // a broker that closes an MQTT 5 CONNECT without a CONNACK does not speak MQTT 5 (aedes)
    if (
      this.protocol === 5 &&
      !this.connackSeen &&
      !this.closing &&
      /closed|ECONNRESET|unreadable/.test(reason)
    ) {
      this.protocol = 4;
      this.reconnectDelay = 0;
    }
    this.socket = undefined;
    socket.destroy();
    this.stopPing();
    const wasConnected = this.connected;
    this.connected = false;
    const dropped = this.unacked.length;
    this.unacked = [];
    this.connection++;
    if (wasConnected && !this.closing) this.emit('disconnect', { reason, dropped });
    if (this.closing) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), this.reconnectDelay);
    this.timer.unref();
    const initial = this.options.reconnectMs ?? 1000;
    this.reconnectDelay = Math.min(
      this.options.reconnectMaxMs ?? 30_000,
      Math.max(initial, this.reconnectDelay * 2),
    );
  }
}
