import { Inject, Injectable } from '@nestjs/common';
import { HttpAnswer, sendHttp } from '@purple/detection';
import { BRIDGE_SETTINGS, BridgeSettings } from '../bridge-env';
import { CalderaAbility, CalderaLink, CalderaOperation, abilityOf, linkOf, operationOf } from '@purple/caldera';

/** Caldera could not be asked (unreachable, timed out) or refused (401/403, 5xx, other 4xx): the poll is retried later. */
export class CalderaUnavailableError extends Error {
  override readonly name = 'CalderaUnavailableError';
}

/** Answers are read up to this size: an operation with thousands of links and their facts stays well under it. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/**
 * Caldera's REST API v2, authenticated with its `KEY` header. Errors name Caldera's origin and the HTTP status,
 * never the key.
 */
@Injectable()
export class CalderaRepository {
  constructor(@Inject(BRIDGE_SETTINGS) private readonly settings: BridgeSettings) {}

  /** `GET /api/v2/operations`, only the fields the bridge reads (Caldera's `include` filter; the rest is ignored) */
  async listOperations(signal: AbortSignal): Promise<CalderaOperation[]> {
    const body = await this.get('/api/v2/operations?include=id&include=name&include=state&include=start', signal);
    return listOf(body, 'operations').flatMap((item) => operationOf(item) ?? []);
  }

  /** `GET /api/v2/operations/{id}/links` */
  async operationLinks(operationId: string, signal: AbortSignal): Promise<CalderaLink[]> {
    const body = await this.get(`/api/v2/operations/${encodeURIComponent(operationId)}/links`, signal);
    return listOf(body, 'links').flatMap((item) => linkOf(item) ?? []);
  }

  /** `GET /api/v2/operations/{id}/links/{link_id}/result` → its `result` (base64, '' when there was no output) */
  async linkResult(operationId: string, linkId: string, signal: AbortSignal): Promise<string> {
    const path = `/api/v2/operations/${encodeURIComponent(operationId)}/links/${encodeURIComponent(linkId)}/result`;
    const body = await this.get(path, signal);
    const result = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['result'] : undefined;
    return typeof result === 'string' ? result : '';
  }

  /** `GET /api/v2/abilities/{ability_id}`; undefined when Caldera has no such ability (e.g. a manual command's) */
  async ability(abilityId: string, signal: AbortSignal): Promise<CalderaAbility | undefined> {
    const body = await this.get(`/api/v2/abilities/${encodeURIComponent(abilityId)}`, signal, { missingIsUndefined: true });
    return body === undefined ? undefined : abilityOf(body);
  }

  /** `GET /api/v2/agents/{paw}` → its host; undefined when Caldera no longer knows the agent */
  async agentHost(paw: string, signal: AbortSignal): Promise<string | undefined> {
    const body = await this.get(`/api/v2/agents/${encodeURIComponent(paw)}`, signal, { missingIsUndefined: true });
    const host = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['host'] : undefined;
    return typeof host === 'string' && host !== '' ? host : undefined;
  }

  private async get(path: string, signal: AbortSignal, options: { missingIsUndefined?: boolean } = {}): Promise<unknown> {
    const url = new URL(path, `${this.settings.calderaUrl}/`);
    const timeout = AbortSignal.timeout(this.settings.requestTimeoutMs);
    let answer: HttpAnswer;
    try {
      answer = await sendHttp('Caldera', {
        method: 'GET',
        url,
        headers: { KEY: this.settings.apiKey, accept: 'application/json' },
        signal: AbortSignal.any([signal, timeout]),
        verifyTls: this.settings.verifyTls,
        maxBodyBytes: MAX_ANSWER_BYTES,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      if (timeout.aborted) throw new CalderaUnavailableError(`Caldera at ${url.origin} did not answer within ${this.settings.requestTimeoutMs} ms`);
      throw new CalderaUnavailableError(this.redacted((error as Error).message));
    }
    if (answer.status === 404 && options.missingIsUndefined) return undefined;
    if (answer.status === 401 || answer.status === 403) {
      throw new CalderaUnavailableError(`Caldera at ${url.origin} refused the API key (HTTP ${answer.status}); check CALDERA_API_KEY`);
    }
    if (answer.status < 200 || answer.status >= 300) {
      const reason = this.redacted(reasonOf(answer));
      throw new CalderaUnavailableError(`Caldera at ${url.origin} answered HTTP ${answer.status} to GET ${url.pathname}${reason ? `: ${reason}` : ''}`);
    }
    if (answer.truncated) throw new CalderaUnavailableError(`Caldera's answer to GET ${url.pathname} is larger than ${MAX_ANSWER_BYTES} bytes`);
    try {
      return JSON.parse(answer.body);
    } catch {
      throw new CalderaUnavailableError(`Caldera's answer to GET ${url.pathname} is not JSON`);
    }
  }

  /** Whatever a message quotes from Caldera, the key never appears in it. */
  private redacted(text: string): string {
    return text.split(this.settings.apiKey).join('[CALDERA_API_KEY]');
  }
}

function listOf(body: unknown, what: string): unknown[] {
  if (!Array.isArray(body)) throw new CalderaUnavailableError(`Caldera's ${what} answer is not a list`);
  return body;
}

/** Caldera's own explanation: `{"error": …}` (JsonHttp* responses) or a short text body. */
function reasonOf(answer: HttpAnswer): string {
  try {
    const parsed = JSON.parse(answer.body) as Record<string, unknown>;
    if (typeof parsed['error'] === 'string') return parsed['error'].slice(0, 300);
  } catch {
    // not JSON
  }
  return answer.body.trim().slice(0, 300);
}
