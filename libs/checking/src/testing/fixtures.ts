/*
 * Messages for the checking engine's tests: the seed's example execution result (verbatim from
 * shared/seeds/checking-engine-rabbitmq.md), a patched Caldera's `link_result` of the same execution, and
 * worker responses to its tasks.
 */

// the seed's example, verbatim, is kept once, with the contracts' other seed examples
export { SEED_EXECUTION_RESULT_TEXT, seedExecutionResult } from '@purple/contracts/testing';

/** The four tasks the seed's example becomes: platform, connector and query, in the order they are planned. */
export const SEED_TASKS = [
  { detection_type: 'api', platform: 'siem', connector: 'splunk', query: 'search index=security user=administrator' },
  { detection_type: 'api', platform: 'edr', connector: 'crowdstrike', query: 'process_name:whoami.exe' },
  { detection_type: 'agent', platform: 'windows', connector: 'powershell', query: 'Get-EventLog Security -InstanceId 4624' },
  { detection_type: 'agent', platform: 'linux', connector: 'bash', query: "grep 'sudo' /var/log/auth.log" },
] as const;

/** A patched Caldera's `link_result` of the same execution, with ATT&CK data and the detections as a list. */
export function linkResultWithList(linkId = 'link-67890'): Record<string, unknown> {
  return {
    message_type: 'link_result',
    timestamp: '2024-01-15T10:30:02.123456+00:00',
    operation: { id: 'op-12345', name: 'purple-discovery', start: '2024-01-15T10:00:00.000000+00:00' },
    execution: {
      link_id: linkId,
      agent_host: 'target-machine.local',
      agent_paw: 'abc123def456',
      command: 'whoami',
      pid: 1234,
      status: 0,
      state: 'SUCCESS',
      result_data: '{"stdout": "administrator", "stderr": "", "exit_code": 0}',
      agent_reported_time: '2024-01-15T10:30:00Z',
      tactic: 'discovery',
      technique_id: 'T1033',
      technique_name: 'System Owner/User Discovery',
      detections: [
        {
          detection_type: 'api',
          detection_platform: 'siem',
          detection_config: { query: 'search index=security user=administrator', connector: 'splunk', priority: 'high' },
          max_retries: 1,
        },
        {
          detection_type: 'api',
          detection_platform: 'edr',
          detection_config: { query: 'process_name:whoami.exe', connector: 'crowdstrike', timeout_seconds: 120 },
        },
        {
          detection_type: 'agent',
          detection_platform: 'windows',
          detection_config: { command: 'Get-EventLog Security -InstanceId 4624', connector: 'powershell' },
        },
        {
          detection_type: 'agent',
          detection_platform: 'linux',
          detection_config: { command: "grep 'sudo' /var/log/auth.log", connector: 'bash' },
        },
      ],
    },
  };
}

export interface ResponseOptions {
  taskId: string;
  executionId?: string;
  detectionType?: 'api' | 'agent';
  platform?: string;
  detected?: boolean;
  status?: 'detected' | 'not_detected' | 'unsupported' | 'error';
  error?: string;
  attempt?: number;
  /** event times of the evidence */
  eventTimes?: string[];
  timestamp?: string;
}

/** A worker's response in the seed's format, plus the optional status, attempt and evidence. */
export function detectionResponse(options: ResponseOptions): Record<string, unknown> {
  const detected = options.detected ?? options.status === 'detected';
  return {
    detection_id: `det-${options.taskId.slice(0, 8)}-${options.attempt ?? 1}`,
    task_id: options.taskId,
    execution_id: options.executionId ?? 'exec-12345',
    detection_type: options.detectionType ?? 'api',
    platform: options.platform ?? 'siem',
    detected,
    confidence: detected ? 0.85 : 0,
    results: { events_found: detected ? 3 : 0, rule_matched: detected ? 'suspicious_admin_logon' : undefined, raw_output: '...', execution_time_ms: 1500 },
    timestamp: options.timestamp ?? '2024-01-15T10:31:15Z',
    metadata: { worker_id: 'api-worker-01', query_hash: 'sha256:abc', version: '1.0.0' },
    ...(options.status !== undefined && { status: options.status }),
    ...(options.error !== undefined && { error: options.error }),
    ...(options.attempt !== undefined && { attempt: options.attempt }),
    ...(options.eventTimes !== undefined && {
      evidence: options.eventTimes.map((time, i) => ({ id: `alert-${i}`, link: `https://siem.example/alerts/${i}`, event_time: time })),
    }),
  };
}
