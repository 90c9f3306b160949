import { BeforeApplicationShutdown, HttpException, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { BearerAuthenticator, ClientPrincipal, InvalidTokenError, bearerChallenge, hasScope } from '@purple/auth';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { BrokerChannels } from '../broker/broker-channels';
import { ClientChannelQuota } from '../broker/client-channel-quota';
import { ApiEnv } from '../config/api-env';
import { credentialsInQuery } from '../http/refuse-credentials-in-query.middleware';
import { NotifyUseCase } from '../messages/notify.use-case';
import { ReceiverDedupe } from '../messages/receiver-dedupe';
import { SendMessageUseCase } from '../messages/send-message.use-case';
import { BEARER_SUBPROTOCOL, streamCredentials } from './stream-credentials';
import { CLOSE, StreamSession } from './stream-session';

export const STREAM_PATH = '/stream';

class HandshakeRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * The WebSocket at `/stream`, on the api's own HTTP server. The handshake is authenticated before the upgrade, so a
 * bad token is an ordinary HTTP answer (401 with `WWW-Authenticate`, 403 without the bus scope, 503 while the broker
 * is down) rather than a socket that opens and closes.
 *
 * Each client may hold STREAM_MAX_PER_CLIENT streams (429 beyond). Every STREAM_TOKEN_RECHECK_MS the open streams'
 * tokens are checked again, so a rotated secret, a deleted client or a withdrawn bus scope ends them within that.
 *
 * Built on `ws` directly rather than a Nest gateway: a gateway needs a WebSocket adapter installed before the app
 * initialises, so every way of starting the app would have to remember it.
 */
@Injectable()
export class StreamServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Stream');
  private readonly sessions = new Set<StreamSession>();
  private server?: Server;
  private readonly wss: WebSocketServer;
  private recheckTimer?: NodeJS.Timeout;
  private rechecking = false;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authenticator: BearerAuthenticator,
    private readonly channels: BrokerChannels,
    private readonly sendMessage: SendMessageUseCase,
    private readonly notify: NotifyUseCase,
    private readonly env: ApiEnv,
    private readonly dedupe: ReceiverDedupe,
    private readonly quota: ClientChannelQuota,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: env.MAX_BODY_BYTES,
      // answer the browser's `bearer` subprotocol, never the token offered after it
      handleProtocols: (protocols) => (protocols.has(BEARER_SUBPROTOCOL) ? BEARER_SUBPROTOCOL : false),
    });
  }

  onApplicationBootstrap(): void {
    this.server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    this.server.on('upgrade', this.onUpgrade);
    this.recheckTimer = setInterval(() => void this.recheckTokens(), this.env.STREAM_TOKEN_RECHECK_MS);
    this.recheckTimer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.recheckTimer);
    this.server?.off('upgrade', this.onUpgrade);
    for (const session of this.sessions) session.close(CLOSE.goingAway, 'the server is shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    const path = (req.url ?? '/').split('?')[0];
    if (path !== STREAM_PATH) {
      // another upgrade listener may serve this path; if there is none, answer rather than leave the socket hanging
      if (this.server?.listenerCount('upgrade') === 1) refuse(socket, new HandshakeRefusal(404, `no WebSocket at ${path}: use ${STREAM_PATH}`));
      return;
    }
    this.authenticate(req).then(
      ({ principal, token, release }) => {
        // the socket may die before the upgrade completes: the slot must come back then too
        socket.once('close', release);
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          const session = new StreamSession(ws, principal, token, {
            channels: this.channels,
            authenticator: this.authenticator,
            sendMessage: this.sendMessage,
            notify: this.notify,
            dedupe: this.dedupe,
            prefetch: this.env.STREAM_PREFETCH,
          });
          this.sessions.add(session);
          ws.once('close', () => {
            this.sessions.delete(session);
            release();
          });
          void session.start();
        });
      },
      (error: unknown) => {
        if (!(error instanceof HandshakeRefusal)) this.logger.error(`WebSocket handshake failed: ${(error as Error).message}`);
        refuse(socket, error instanceof HandshakeRefusal ? error : new HandshakeRefusal(500, 'internal error'));
      },
    );
  };

  /** Closes the streams whose token is no longer good; a database failure leaves them open until the next round. */
  private async recheckTokens(): Promise<void> {
    if (this.rechecking || this.sessions.size === 0) return;
    this.rechecking = true;
    try {
      const byToken = new Map<string, StreamSession[]>();
      for (const session of this.sessions) byToken.set(session.token, [...(byToken.get(session.token) ?? []), session]);
      await Promise.all(
        [...byToken].map(async ([token, sessions]) => {
          let reason: string | undefined;
          try {
            const principal = await this.authenticator.authenticate(token);
            if (!hasScope(principal, 'bus')) reason = 'the client no longer holds the bus scope';
          } catch (error) {
            if (error instanceof InvalidTokenError) reason = error.message;
          }
          if (reason) for (const session of sessions) session.close(CLOSE.policy, reason);
        }),
      );
    } finally {
      this.rechecking = false;
    }
  }

  /** The caller, its token (kept to re-check) and its stream slot, or a refusal. */
  private async authenticate(req: IncomingMessage): Promise<{ principal: ClientPrincipal; token: string; release: () => void }> {
    const inQuery = credentialsInQuery(req.url);
    if (inQuery.length > 0) {
      throw new HandshakeRefusal(400, `credentials must not be sent in the query string (${inQuery.join(', ')}): use the Authorization header or the Sec-WebSocket-Protocol "bearer, <token>"`);
    }
    const credentials = streamCredentials(req);
    if (credentials.kind === 'none') {
      throw new HandshakeRefusal(401, 'a bearer token is required: Authorization: Bearer <token>, or Sec-WebSocket-Protocol: bearer, <token>', {
        'WWW-Authenticate': bearerChallenge(),
      });
    }
    if (credentials.kind === 'malformed') {
      throw new HandshakeRefusal(401, credentials.reason, { 'WWW-Authenticate': bearerChallenge('invalid_token', credentials.reason) });
    }
    let principal: ClientPrincipal;
    try {
      principal = await this.authenticator.authenticate(credentials.token);
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        throw new HandshakeRefusal(401, error.message, { 'WWW-Authenticate': bearerChallenge('invalid_token', error.message) });
      }
      throw new HandshakeRefusal(503, 'cannot check the token now; try again later');
    }
    if (!hasScope(principal, 'bus')) {
      throw new HandshakeRefusal(403, 'the stream needs the bus scope', { 'WWW-Authenticate': bearerChallenge('insufficient_scope', undefined, 'bus') });
    }
    if (!this.channels.connected) throw new HandshakeRefusal(503, 'message broker unavailable');
    try {
      return { principal, token: credentials.token, release: this.quota.acquire(principal.clientId, 'stream') };
    } catch (error) {
      if (error instanceof HttpException) throw new HandshakeRefusal(error.getStatus(), error.message);
      throw error;
    }
  }
}

/** An HTTP answer on a socket that asked to upgrade, as JSON like the rest of the api. */
function refuse(socket: Duplex, refusal: HandshakeRefusal): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ statusCode: refusal.status, error: STATUS_CODES[refusal.status], message: refusal.message });
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    ...refusal.headers,
  };
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}`)
        .join('\r\n') +
      `\r\n\r\n${body}`,
  );
}
