import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { ENABLE_COMMAND, ensureManagementApi, ManagementProbe } from './management-plugin';

function fakeProbe(answersAfterEnable: boolean, enableWorks = true) {
  const calls: string[] = [];
  let enabled = false;
  const probe: ManagementProbe = {
    answers: async () => enabled && answersAfterEnable,
    enablePlugin: async () => {
      calls.push('enable');
      enabled = enableWorks;
      return enableWorks;
    },
    sleep: async () => undefined,
  };
  return { probe, calls };
}

describe('ensureManagementApi', () => {
  it('does nothing when the API answers (a real HTTP server answering 401 counts as up)', async () => {
    const server: Server = createServer((_req, res) => res.writeHead(401).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await expect(ensureManagementApi(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)).resolves.toBe('up');
    } finally {
      server.close();
    }
  });

  it('enables the plugin on a local broker and waits until the API answers', async () => {
    const { probe, calls } = fakeProbe(true);
    await expect(ensureManagementApi('http://127.0.0.1:15672', probe)).resolves.toBe('enabled');
    expect(calls).toEqual(['enable']);
  });

  it('names the command when enabling fails', async () => {
    const { probe } = fakeProbe(false, false);
    await expect(ensureManagementApi('http://localhost:15672', probe)).rejects.toThrow(ENABLE_COMMAND);
  });

  it('never runs anything for a remote broker, and names the command and the variable', async () => {
    const { probe, calls } = fakeProbe(true);
    await expect(ensureManagementApi('http://rabbit.example:15672', probe)).rejects.toThrow(/rabbitmq-plugins enable rabbitmq_management.*RABBITMQ_MANAGEMENT_URL/);
    expect(calls).toEqual([]);
  });

  it('gives up after the wait when the API never answers', async () => {
    const { probe } = fakeProbe(false);
    await expect(ensureManagementApi('http://127.0.0.1:15672', probe, 0)).rejects.toThrow(/still does not answer/);
  });
});
