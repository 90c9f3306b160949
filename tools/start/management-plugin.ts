import { execFile } from 'node:child_process';

/** What {@link ensureManagementApi} needs from the machine; tests give fakes. */
export interface ManagementProbe {
  /** Resolves true when anything answers HTTP at the URL (even 401): the plugin is on. */
  answers(url: string): Promise<boolean>;
  /** Runs `rabbitmq-plugins enable rabbitmq_management`; resolves false when it cannot (not installed, not allowed). */
  enablePlugin(): Promise<boolean>;
  sleep(ms: number): Promise<void>;
}

export const ENABLE_COMMAND = 'rabbitmq-plugins enable rabbitmq_management';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * A fresh broker has the management plugin off, and provisioning needs it. When the broker is on this machine the
 * plugin is enabled here (as an operator would, once); otherwise, or when that fails, the error names the one
 * command that does it.
 */
export async function ensureManagementApi(url: string, probe: ManagementProbe = machineProbe, waitMs = 30_000): Promise<'up' | 'enabled'> {
  if (await probe.answers(url)) return 'up';
  const host = new URL(url).hostname;
  if (!LOOPBACK.has(host)) {
    throw new Error(`the RabbitMQ management API at ${url} does not answer: enable it on the broker (${ENABLE_COMMAND}) or fix RABBITMQ_MANAGEMENT_URL`);
  }
  if (!(await probe.enablePlugin())) {
    throw new Error(`the RabbitMQ management API at ${url} does not answer and enabling it here failed: run \`${ENABLE_COMMAND}\` (as root or the rabbitmq user), then npm start again`);
  }
  for (const deadline = Date.now() + waitMs; Date.now() < deadline; await probe.sleep(500)) {
    if (await probe.answers(url)) return 'enabled';
  }
  throw new Error(`enabled the management plugin, but ${url} still does not answer after ${waitMs / 1000} s: check RABBITMQ_MANAGEMENT_URL and the broker's log`);
}

const machineProbe: ManagementProbe = {
  answers: (url) =>
    fetch(`${url.replace(/\/$/, '')}/api/overview`, { signal: AbortSignal.timeout(3_000) }).then(
      () => true,
      () => false,
    ),
  enablePlugin: () =>
    new Promise((resolve) => execFile('rabbitmq-plugins', ['enable', 'rabbitmq_management'], { timeout: 60_000 }, (error) => resolve(!error))),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
