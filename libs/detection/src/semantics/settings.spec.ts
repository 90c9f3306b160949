import 'reflect-metadata';
import { loadConfig } from '@purple/platform';
import { DetectionDefaultsEnv, detectionDefaultsOf, drawJitter, resolveDetectionSettings, searchWindow, settingsAsConfig } from './settings';

describe('detection settings', () => {
  const defaults = detectionDefaultsOf(
    loadConfig(DetectionDefaultsEnv, {
      DATABASE_URL: 'postgres://x@h/db',
      DETECTION_WINDOW_AFTER_SECONDS: '120',
      DETECTION_MAX_WINDOW_AFTER_SECONDS: '600',
    }),
  );

  it('reads the defaults from the environment', () => {
    expect(defaults).toEqual({
      windowBeforeSeconds: 300,
      windowAfterSeconds: 120,
      initialDelaySeconds: 30,
      retryIntervalSeconds: 30,
      maxConsecutiveFailures: 3,
      jitterSeconds: 0,
      maxWindowAfterSeconds: 600,
    });
  });

  it('names a malformed variable', () => {
    expect(() => loadConfig(DetectionDefaultsEnv, { DATABASE_URL: 'postgres://x@h/db', DETECTION_RETRY_INTERVAL_SECONDS: '0' })).toThrow(
      'DETECTION_RETRY_INTERVAL_SECONDS is malformed',
    );
  });

  it('takes each value from the task’s detection_config when it is valid, else the default', () => {
    expect(
      resolveDetectionSettings(
        { window_before_seconds: 10, window_after_seconds: 'soon', retry_interval_seconds: 0, initial_delay_seconds: 2.5, max_consecutive_failures: 5 },
        defaults,
      ),
    ).toEqual({ windowBeforeSeconds: 10, windowAfterSeconds: 120, initialDelaySeconds: 30, retryIntervalSeconds: 30, maxConsecutiveFailures: 5, jitterSeconds: 0 });
    expect(resolveDetectionSettings(undefined, defaults)).toMatchObject({ windowAfterSeconds: 120 });
  });

  it('draws the jitter once into the initial delay, within its bound and the delay cap, leaving none for the worker', () => {
    const settings = resolveDetectionSettings({ initial_delay_seconds: 10, jitter_seconds: 900 }, defaults);
    expect(settings).toMatchObject({ initialDelaySeconds: 10, jitterSeconds: 900 });
    expect(drawJitter(settings, 600, () => 0)).toMatchObject({ initialDelaySeconds: 10, jitterSeconds: 0 });
    expect(drawJitter(settings, 600, () => 0.5)).toMatchObject({ initialDelaySeconds: 460, jitterSeconds: 0 });
    expect(drawJitter(settings, 600, () => 0.999)).toMatchObject({ initialDelaySeconds: 600, jitterSeconds: 0 });
    const drawn = drawJitter(settings, 600, () => 0.5);
    // what the dispatcher writes into the task resolves, at the worker, to exactly what it drew
    expect(resolveDetectionSettings(settingsAsConfig(drawn), defaults)).toEqual(drawn);
    const without = resolveDetectionSettings({}, defaults);
    expect(drawJitter(without, 600, () => 0.9)).toBe(without);
  });

  it('caps the window after and the initial delay', () => {
    expect(resolveDetectionSettings({ window_after_seconds: 86_400, initial_delay_seconds: 7200 }, defaults)).toMatchObject({
      windowAfterSeconds: 600,
      initialDelaySeconds: 600,
    });
  });

  it('writes the settings back as detection_config keys that resolve to the same settings', () => {
    const settings = resolveDetectionSettings({ window_before_seconds: 1, window_after_seconds: 2 }, defaults);
    const config = settingsAsConfig(settings);
    expect(config).toEqual({
      window_before_seconds: 1,
      window_after_seconds: 2,
      initial_delay_seconds: 30,
      jitter_seconds: 0,
      retry_interval_seconds: 30,
      max_consecutive_failures: 3,
    });
    expect(resolveDetectionSettings(config, { ...defaults, windowAfterSeconds: 999 })).toEqual(settings);
  });

  it('places the window around the execution and closes it at the later of window end and first search', () => {
    const at = new Date('2025-01-10T12:00:00Z');
    const window = searchWindow(at, { windowBeforeSeconds: 60, windowAfterSeconds: 10, initialDelaySeconds: 30, retryIntervalSeconds: 5, maxConsecutiveFailures: 1, jitterSeconds: 0 });
    expect(window.earliest.toISOString()).toBe('2025-01-10T11:59:00.000Z');
    expect(window.latest.toISOString()).toBe('2025-01-10T12:00:10.000Z');
    expect(window.firstSearchAt.toISOString()).toBe('2025-01-10T12:00:30.000Z');
    expect(window.closesAt.toISOString()).toBe('2025-01-10T12:00:30.000Z');
  });
});
