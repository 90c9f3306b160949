import { falconAlertAction, sentinelRowAction } from '../connectors/detection-action';
import { matchFactsOf } from './match-facts';

describe('matchFactsOf', () => {
  it('finds the marker in what the source answered and tells a host-scoped query', () => {
    expect(matchFactsOf('index=main CommandLine="*{{marker}}*"', 'link-e2e-7f3a', '{"_raw":"whoami link-e2e-7f3a"}')).toEqual({
      marker: 'link-e2e-7f3a',
      markerFound: true,
      hostScoped: false,
    });
    expect(matchFactsOf('device.hostname:{{ host }}', 'link-e2e-7f3a', '{"resources":[{"cmdline":"whoami"}]}')).toEqual({
      marker: 'link-e2e-7f3a',
      markerFound: false,
      hostScoped: true,
    });
    expect(matchFactsOf('agent={{paw}}', undefined, 'x').hostScoped).toBe(true);
    // a marker too short to be told from chance is never "found"
    expect(matchFactsOf('q', 'ab', 'ab ab').markerFound).toBe(false);
  });
});

describe('what a source did (blocked or alerted)', () => {
  it('reads CrowdStrike alerts', () => {
    expect(falconAlertAction({ pattern_disposition_details: { process_blocked: true } })).toBe('blocked');
    expect(falconAlertAction({ pattern_disposition_details: { quarantine_file: true } })).toBe('blocked');
    expect(falconAlertAction({ pattern_disposition_details: { kill_process: true, kill_action_failed: true } })).toBe('alerted');
    expect(falconAlertAction({ pattern_disposition_details: { blocking_unsupported_or_disabled: true, detect: true } })).toBe('alerted');
    expect(falconAlertAction({ pattern_disposition_description: 'Prevention, process killed.' })).toBe('blocked');
    expect(falconAlertAction({ pattern_disposition_description: 'Detection, standard detection.' })).toBe('alerted');
    expect(falconAlertAction({})).toBeUndefined();
  });

  it('reads Sentinel action columns', () => {
    expect(sentinelRowAction('Blocked')).toBe('blocked');
    expect(sentinelRowAction('ExploitGuardNetworkProtectionBlocked')).toBe('blocked');
    expect(sentinelRowAction('Quarantined')).toBe('blocked');
    expect(sentinelRowAction('Allowed')).toBe('alerted');
    expect(sentinelRowAction('AntivirusDetection')).toBe('alerted');
    expect(sentinelRowAction('')).toBeUndefined();
    expect(sentinelRowAction(null)).toBeUndefined();
  });
});
