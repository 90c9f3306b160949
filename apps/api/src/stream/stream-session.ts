import { HttpException, Logger } from '@nestjs/common';
import { BearerAuthenticator, ClientPrincipal, InvalidTokenError } from '@purple/auth';
import { IDEMPOTENCY_KEY_FIELD } from '@purple/contracts';
import { settle } from '@purple/messaging';
import type { Channel, ConsumeMessage } from 'amqplib';
import { RawData, WebSocket } from 'ws';
import { BrokerChannels, brokerErrorMessage, closeQuietly, inboxOf } from '../broker/broker-channels';
import { readEnvelope } from '../broker/inbox-envelope';
import { NotifyUseCase } from '../messages/notify.use-case';
import { ReceiverDedupe } from '../messages/receiver-dedupe';
import { SendMessageUseCase } from '../messages/send-message.use-case';

/** WebSocket close codes used here (RFC 6455 §7.4) */
export const CLOSE = { goingAway: 1001, policy: 1008, serverError: 1011, tryAgainLater: 1013 } as const;
const HEARTBEAT_MS = 30_000;
/** frames received and not yet handled before the socket stops being read (TCP then pushes back on the sender) */
export const MAX_PENDING_FRAMES = 16;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SessionDependencies {
  channels: BrokerChannels;
  authenticator: BearerAuthenticator;
  sendMessage: SendMessageUseCase;
  notify: NotifyUseCase;
  dedupe: ReceiverDedupe;
  prefetch: number;
}

/**
 * One client's WebSocket: streams its inbox (consumed with a prefetch; each message acked once `ws.send` has
 * written it; whatever is unacked when the socket closes goes back to the inbox) and takes send and notify frames,
 * one at a time in arrival order so a sender's messages keep their order. Inbox messages are handed out one at a
 * time too: a message_id the client already had is dropped (ReceiverDedupe), which needs the one before recorded.
 */
export class StreamSession {
  private readonly logger = new Logger('Stream');
  private channel?: Channel;
  private stopped = false;
  private frames: Promise<void> = Promise.resolve();
  private deliveries: Promise<void> = Promise.resolve();
  private pendingFrames = 0;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly ws: WebSocket,
    private readonly principal: ClientPrincipal,
    readonly token: string,
    private readonly deps: SessionDependencies,
  ) {}

  async start(): Promise<void> {
    this.ws.on('close', () => void this.stop());
    this.ws.on('error', () => undefined); // a broken socket is followed by 'close'
    this.ws.on('message', (data, isBinary) => {
      // backpressure: past MAX_PENDING_FRAMES the socket is not read until the queue drains, instead of growing
      if (++this.pendingFrames >= MAX_PENDING_FRAMES) this.ws.pause();
      this.frames = this.frames
        .then(() => this.onFrame(data, isBinary))
        .catch((error: Error) => this.logger.error(`a frame from ${this.principal.clientId} failed: ${error.message}`))
        .finally(() => {
          if (--this.pendingFrames < MAX_PENDING_FRAMES && this.ws.isPaused) this.ws.resume();
        });
    });
    this.keepAlive();
    this.closeWhenTokenExpires();
    try {
      const channel = await this.deps.channels.open();
      this.channel = channel;
      if (this.stopped) return void closeQuietly(channel);
      channel.on('close', () => this.close(CLOSE.tryAgainLater, 'the broker connection was lost; reconnect'));
      await channel.prefetch(this.deps.prefetch);
      await channel.consume(
        inboxOf(this.principal.clientId),
        (message) => {
          this.deliveries = this.deliveries
            .then(() => this.deliver(message))
            .catch((error: Error) => this.logger.error(`delivering to ${this.principal.clientId} failed: ${error.message}`));
        },
        { noAck: false },
      );
    } catch (error) {
      if (this.stopped) return; // the client left while the consumer was being set up
      this.logger.warn(`cannot stream the inbox of ${this.principal.clientId}: ${brokerErrorMessage(error)}`);
      this.close(CLOSE.tryAgainLater, 'the inbox is unavailable; reconnect later');
    }
  }

  /** Closes the socket; the channel closes with it, returning unacked messages to the inbox. */
  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
    void this.stop();
  }

  private async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.forEach((timer) => clearTimeout(timer)); // clears intervals too
    if (this.channel) await closeQuietly(this.channel);
  }

  private async deliver(message: ConsumeMessage | null): Promise<void> {
    const channel = this.channel;
    if (!channel || this.stopped) return;
    if (message === null) {
      // the broker cancelled the consumer: the inbox was deleted (the client with it)
      this.close(CLOSE.policy, 'the inbox no longer exists');
      return;
    }
    const read = readEnvelope(message.content);
    if (!read.ok) {
      this.logger.warn(`dead-lettering an unreadable message in ${this.principal.clientId}'s inbox: ${read.reason}`);
      settle(channel, message, 'reject'); // a closed channel returns it to the inbox, and the next reader rejects it
      return;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return; // left unacked: back to the inbox when the channel closes
    let unseen: boolean;
    try {
      unseen = (await this.deps.dedupe.unseen(this.principal.clientId, [read.envelope])).length > 0;
    } catch (error) {
      this.close(CLOSE.tryAgainLater, 'the inbox is unavailable; reconnect later');
      this.logger.warn(`cannot stream the inbox of ${this.principal.clientId}: ${(error as Error).message}`);
      return;
    }
    if (!unseen) {
      settle(channel, message, 'ack'); // a copy of a message the client already had
      return;
    }
    const written = await new Promise<boolean>((resolve) =>
      // Node also reports success for a write cut short by a reset connection: only a socket still open counts
      this.ws.send(JSON.stringify({ type: 'message', ...read.envelope }), (error) => resolve(!error && !this.stopped && this.ws.readyState === WebSocket.OPEN)),
    );
    if (!written) return;
    await this.deps.dedupe.remember(this.principal.clientId, [read.envelope]);
    settle(channel, message, 'ack');
  }

  private async onFrame(data: RawData, isBinary: boolean): Promise<void> {
    if (this.stopped) return;
    let frame: Record<string, unknown>;
    try {
      const parsed: unknown = isBinary ? undefined : JSON.parse(data.toString());
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      frame = parsed as Record<string, unknown>;
    } catch {
      this.reply({ type: 'error', reason: 'a frame must be a JSON object as text: {"type":"send","topic":…,"message":…} or {"type":"notify","message":…}' });
      return;
    }
    const requestId = typeof frame['request_id'] === 'string' ? { request_id: frame['request_id'] } : {};
    try {
      // every frame re-checks the token: a revoked or expired one stops the session at once
      await this.deps.authenticator.authenticate(this.token);
      const { type, [IDEMPOTENCY_KEY_FIELD]: key, ...body } = frame;
      // as the HTTP header: a retried frame with the same key answers the same message_id and publishes nothing new
      const idempotencyKey = key === undefined ? undefined : typeof key === 'string' ? key : '';
      let messageId: string;
      if (type === 'send') messageId = await this.deps.sendMessage.execute(this.principal.clientId, body, undefined, idempotencyKey);
      else if (type === 'notify') messageId = await this.deps.notify.execute(this.principal.clientId, body, undefined, idempotencyKey);
      else {
        this.reply({ type: 'error', reason: `unknown frame type ${JSON.stringify(type)}: use send or notify`, ...requestId });
        return;
      }
      this.reply({ type: 'ack', message_id: messageId, ...requestId });
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        this.reply({ type: 'error', reason: error.message, ...requestId });
        this.close(CLOSE.policy, error.message);
        return;
      }
      this.reply({ type: 'error', reason: this.reasonOf(error), ...requestId });
    }
  }

  private reply(frame: Record<string, unknown>): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private reasonOf(error: unknown): string {
    if (error instanceof HttpException) {
      const response = error.getResponse();
      const message = typeof response === 'object' && response !== null ? (response as { message?: unknown }).message : response;
      return Array.isArray(message) ? message.join('; ') : String(message ?? error.message);
    }
    this.logger.error(`a frame from ${this.principal.clientId} failed: ${(error as Error).message}`);
    return 'internal error';
  }

  /** Pings every 30 s; a peer that did not answer the last ping is gone, and its unacked messages go back. */
  private keepAlive(): void {
    let alive = true;
    this.ws.on('pong', () => (alive = true));
    const timer = setInterval(() => {
      if (!alive) return void this.ws.terminate();
      alive = false;
      this.ws.ping();
    }, HEARTBEAT_MS);
    timer.unref();
    this.timers.push(timer);
  }

  private closeWhenTokenExpires(): void {
    const timer = setTimeout(() => this.close(CLOSE.policy, 'the token has expired'), Math.min(MAX_TIMER_MS, Math.max(0, this.principal.expiresAt.getTime() - Date.now())));
    timer.unref();
    this.timers.push(timer);
  }
}
