import type { DetectionAction } from '@purple/contracts';

/**
 * CrowdStrike Falcon alert (Alerts API v2): `pattern_disposition_details` flags say what the sensor did; any
 * preventive flag set is `blocked`, otherwise the alert only reported (`alerted`). Without the details,
 * `pattern_disposition_description` ("Prevention, process killed." / "Detection, standard detection.") decides.
 * Undefined when the alert says neither.
 */
const FALCON_PREVENTIVE_FLAGS = [
  'process_blocked',
  'operation_blocked',
  'kill_process',
  'kill_parent',
  'kill_subprocess',
  'kill_action_failed',
  'quarantine_file',
  'quarantine_machine',
  'registry_operation_blocked',
  'fs_operation_blocked',
  'handle_operation_downgraded',
  'bootup_safeguard_enabled',
  'blocking_unsupported_or_disabled',
];

export function falconAlertAction(alert: Record<string, unknown>): DetectionAction | undefined {
  const details = alert['pattern_disposition_details'];
  if (typeof details === 'object' && details !== null && !Array.isArray(details)) {
    const flags = details as Record<string, unknown>;
    // blocking_unsupported_or_disabled means the sensor would have blocked but could not: only an alert
    const prevented = FALCON_PREVENTIVE_FLAGS.filter((f) => f !== 'blocking_unsupported_or_disabled' && f !== 'kill_action_failed').some(
      (flag) => flags[flag] === true,
    );
    return prevented && flags['kill_action_failed'] !== true ? 'blocked' : 'alerted';
  }
  const description = alert['pattern_disposition_description'];
  if (typeof description === 'string') {
    if (/^\s*prevention/i.test(description)) return 'blocked';
    if (/^\s*detection/i.test(description)) return 'alerted';
  }
  return undefined;
}

/** The Log Analytics columns that say what a product did (CommonSecurityLog's DeviceAction, Defender's ActionType …). */
export const SENTINEL_ACTION_COLUMNS = ['DeviceAction', 'ActionType', 'ActionTaken', 'Action'];

/**
 * Microsoft Sentinel row: an action column naming a prevention (blocked, prevented, quarantined, killed, denied,
 * remediated) is `blocked`; any other value (allowed, alert, detected, AntivirusDetection …) is `alerted`.
 */
export function sentinelRowAction(value: unknown): DetectionAction | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return /block|prevent|quarantin|kill|den(y|ied)|remediat|drop/i.test(value) ? 'blocked' : 'alerted';
}
