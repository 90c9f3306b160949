import type { ClaimedTask } from '../tasks/task.repository';
import type { DetectionTaskMessage, DetectionType } from '@purple/contracts';
import { DetectionSettings, settingsAsConfig } from '@purple/detection';
import { ROUTING_KEYS } from '@purple/topology';

export const TASK_ROUTING_KEYS: Record<DetectionType, string> = { api: ROUTING_KEYS.apiTask, agent: ROUTING_KEYS.agentTask };

/**
 * The seed's task message for one attempt of a task, plus what a worker needs beyond the seed: the execution it
 * belongs to, the attempt, the connector, the correlation id, and the detection settings resolved here (so every
 * worker searches the window the dispatcher's deadline was computed for).
 */
export function buildTaskMessage(task: ClaimedTask, attempt: number, settings: DetectionSettings): DetectionTaskMessage {
  return {
    task_id: task.id,
    operation_id: task.calderaOperationId,
    detection_type: task.detectionType,
    platform: task.platform,
    query: { type: queryTypeOf(task), content: task.query, timeout_seconds: task.timeoutSeconds },
    metadata: {
      priority: task.priority,
      created_at: task.createdAt.toISOString(),
      execution_context: {
        original_command: task.command,
        target_host: task.agentHost,
        agent_paw: task.agentPaw,
        executed_at: task.executedAt.toISOString(),
        ...(task.calderaLinkId !== null && { link_id: task.calderaLinkId }),
        marker: task.marker,
      },
    },
    execution_id: task.executionId,
    attempt,
    connector: task.connector,
    detection_config: { ...task.config, ...settingsAsConfig(settings) },
    correlation_id: task.correlationId,
  } as DetectionTaskMessage;
}

/** As the seed names them: `splunk_search`, `crowdstrike_search` (api); `powershell_command`, `bash_command` (agent). */
export function queryTypeOf(task: Pick<ClaimedTask, 'connector' | 'detectionType'>): string {
  const connector = task.connector.toLowerCase().replace(/[^a-z0-9]+/g, '_');
  return `${connector}_${task.detectionType === 'api' ? 'search' : 'command'}`;
}
