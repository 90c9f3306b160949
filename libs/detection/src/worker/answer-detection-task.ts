import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { DetectionResponseMessage, DetectionTaskMessage, ResponseStatus } from '@purple/contracts';
import { ConnectorRegistry } from '../connectors/registry';
import { CLOCK, Clock } from '../semantics/clock';
import { DetectionAbortedError, DetectionOutcome, RunDetection } from '../semantics/run-detection';
import { resolveDetectionSettings } from '../semantics/settings';
import { withoutSecrets } from './secret-values';
import { WORKER_SETTINGS, WORKER_VERSION, WorkerSettings } from './worker-settings';

/** `results.raw_output` keeps this many characters of what the product answered. */
export const RAW_OUTPUT_LIMIT = 4096;

/**
 * Answers one detection task: with the connector registered for its `connector` (else `unsupported`), run with the
 * detection semantics, as the seed's response message. Only a shutdown ({@link DetectionAbortedError}) leaves it
 * unanswered; any other failure is answered `error` with the reason.
 */
@Injectable()
export class AnswerDetectionTask {
  private readonly logger = new Logger('DetectionWorker');

  constructor(
    private readonly registry: ConnectorRegistry,
    private readonly runDetection: RunDetection,
    @Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute(task: DetectionTaskMessage, shutdown: AbortSignal): Promise<DetectionResponseMessage> {
    const startedAt = this.clock.now();
    const connectorName = task.connector ?? task.platform;
    const connector = this.registry.find(connectorName);
    if (!connector) {
      return this.response(task, startedAt, {
        status: 'unsupported',
        error: `no ${task.detection_type} connector "${connectorName}" is configured on this worker`,
      });
    }
    let outcome: DetectionOutcome;
    try {
      const settings = resolveDetectionSettings(task.detection_config as Record<string, unknown> | undefined, this.settings.defaults);
      outcome = await this.runDetection.execute(task, connector, settings, shutdown);
    } catch (error) {
      if (error instanceof DetectionAbortedError) throw error;
      this.logger.error({ msg: 'detection failed unexpectedly', task_id: task.task_id, err: error });
      return this.response(task, startedAt, { status: 'error', error: `worker failed: ${(error as Error)?.message ?? String(error)}` });
    }
    return this.response(task, startedAt, { ...outcome });
  }

  private response(
    task: DetectionTaskMessage,
    startedAt: number,
    answer: Partial<Omit<DetectionOutcome, 'status'>> & { status: ResponseStatus; error?: string },
  ): DetectionResponseMessage {
    const finishedAt = this.clock.now();
    // whatever a command or product echoed of the worker's credentials is replaced before anything is stored
    const clean = (text: string) => withoutSecrets(text, this.settings.secrets);
    const detected = answer.status === 'detected';
    const response: DetectionResponseMessage = {
      detection_id: `det-${randomUUID()}`,
      task_id: task.task_id,
      // the dispatcher always sends it; a task from another producer may not have one
      execution_id: task.execution_id ?? 'unknown',
      detection_type: task.detection_type,
      platform: task.platform,
      detected,
      confidence: answer.confidence ?? 0,
      results: {
        events_found: answer.eventsFound ?? 0,
        ...(answer.ruleMatched !== undefined && { rule_matched: clean(answer.ruleMatched) }),
        raw_output: truncate(clean(answer.rawOutput ?? ''), RAW_OUTPUT_LIMIT),
        execution_time_ms: finishedAt - startedAt,
      },
      timestamp: new Date(finishedAt).toISOString(),
      metadata: {
        worker_id: this.settings.workerId,
        query_hash: `sha256:${createHash('sha256').update(answer.query ?? task.query.content).digest('hex')}`,
        version: WORKER_VERSION,
      },
      status: answer.status,
      ...(answer.error !== undefined && { error: clean(answer.error) }),
      attempt: task.attempt ?? 1,
      evidence: (answer.events ?? []).map((event) => ({
        ...(event.id !== undefined && { id: clean(event.id) }),
        ...(event.link !== undefined && { link: clean(event.link) }),
        ...(event.eventTime !== undefined && { event_time: event.eventTime.toISOString() }),
        ...(event.action !== undefined && { action: event.action }),
      })),
      ...(answer.match !== undefined && {
        match: {
          ...(answer.match.marker !== undefined && { marker: clean(answer.match.marker) }),
          marker_found: answer.match.markerFound,
          host_scoped: answer.match.hostScoped,
        },
      }),
    };
    return response;
  }
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}…[truncated ${text.length - limit} characters]`;
}
