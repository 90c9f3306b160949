import { normaliseExecution, parseExecutionMessage } from '@purple/contracts';
import { newExecutionOf, parseInstruction } from '@purple/checking';
import { linkResultWithList, pythonStr, referenceDetections, referenceLinkResult } from '@purple/contracts/testing';
import { abilityOf, linkOf } from '@purple/caldera';
import { FinishedLink, buildLinkResult, messageIdOf } from './link-message';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** The contracts' own link_result example (link-67890, whoami, four detections) as Caldera 5 serves it. */
function seedLink(): FinishedLink {
  const seed = linkResultWithList() as { operation: Record<string, string>; execution: Record<string, unknown> };
  const link = linkOf({
    id: 'link-67890',
    paw: 'abc123def456',
    command: 'whoami',
    status: 0,
    decide: '2024-01-15T10:29:50Z',
    finish: '2024-01-15T10:30:01Z',
    agent_reported_time: '2024-01-15T10:30:00Z',
    pid: '1234',
    host: 'target-machine.local',
    ability: { ability_id: 'c0da588f', tactic: 'discovery', technique_id: 'T1033', technique_name: 'System Owner/User Discovery' },
  });
  if (!link) throw new Error('the link was not read');
  return {
    operation: { id: 'op-12345', name: 'purple-discovery', state: 'running', start: '2024-01-15T10:00:00Z' },
    link,
    ability: abilityOf({
      ability_id: 'c0da588f',
      tactic: 'discovery',
      technique_id: 'T1033',
      technique_name: 'System Owner/User Discovery',
      additional_info: { detections: JSON.stringify(seed.execution['detections']) },
    }),
    host: 'target-machine.local',
    result: b64(JSON.stringify({ stdout: 'administrator', stderr: '', exit_code: 0 })),
  };
}

describe('the link_result message of a finished Caldera link', () => {
  it("is the contracts' example of a patched Caldera's message, and normalises the same", () => {
    const built = buildLinkResult(seedLink(), new Date('2024-01-15T10:30:02.000Z'));
    if (!built.ok) throw new Error(built.errors.join('; '));
    const expected = linkResultWithList() as { execution: Record<string, unknown> };
    expect(built.message).toEqual({
      ...expected,
      timestamp: '2024-01-15T10:30:02.000Z',
      operation: { id: 'op-12345', name: 'purple-discovery', start: '2024-01-15T10:00:00.000Z' },
      execution: {
        ...expected.execution,
        result_data: { stdout: 'administrator', stderr: '', exit_code: 0 },
        agent_reported_time: '2024-01-15T10:30:00.000Z',
      },
    });
    const fromBridge = parseExecutionMessage(JSON.stringify(built.message));
    const fromPatchedCaldera = parseExecutionMessage(JSON.stringify(expected));
    if (!fromBridge.ok || !fromPatchedCaldera.ok) throw new Error('a message did not validate');
    expect(normaliseExecution(fromBridge.value)).toEqual({ ...normaliseExecution(fromPatchedCaldera.value), operationName: 'purple-discovery' });
    expect(messageIdOf('link-67890')).toBe('caldera-link:link-67890');
  });

  it('takes the execution time from finish, else decide, when the agent reported none', () => {
    const finished = seedLink();
    finished.link = { ...finished.link, agentReportedTime: undefined };
    const built = buildLinkResult(finished, new Date());
    expect(built.ok && built.message.execution.agent_reported_time).toBe('2024-01-15T10:30:01.000Z');
    finished.link = { ...finished.link, finish: undefined };
    const decided = buildLinkResult(finished, new Date());
    expect(decided.ok && decided.message.execution.agent_reported_time).toBe('2024-01-15T10:29:50.000Z');
  });

  it('is sent without the host when it is unknown, and with detections the consumer rejects entry by entry', () => {
    const finished = seedLink();
    finished.host = undefined;
    finished.ability = abilityOf({ additional_info: { detections: JSON.stringify([{ detection_type: 'email', detection_platform: 'x' }]) } });
    const built = buildLinkResult(finished, new Date());
    if (!built.ok) throw new Error(built.errors.join('; '));
    expect(built.message.execution).not.toHaveProperty('agent_host');
    const execution = parseInstruction(Buffer.from(JSON.stringify(built.message)));
    expect(execution).toMatchObject({ agentHost: '', agentPaw: 'abc123def456', detections: [] });
    expect(execution.rejectedDetections.map((r) => r.reason)).toEqual([
      'detections[0].detection_type must be one of the following values: api, agent, windows, linux, darwin; detections[0].detection_config is required',
    ]);
  });

  it("carries an ability's detections in the reference publisher's vocabulary (as Caldera serves them, Python text) to the consumer's tasks", () => {
    const finished = seedLink();
    finished.ability = abilityOf({
      ability_id: 'c0da588f',
      technique_id: 'T1033',
      additional_info: { detections: pythonStr(referenceDetections()) },
    });
    const built = buildLinkResult(finished, new Date('2024-01-15T10:30:02.000Z'));
    if (!built.ok) throw new Error(built.errors.join('; '));
    const body = Buffer.from(JSON.stringify(built.message));
    const fromBridge = newExecutionOf(parseInstruction(body), { dedupeKey: 'link:link-67890', correlationId: 'c' });
    const fromPatchedCaldera = newExecutionOf(parseInstruction(Buffer.from(JSON.stringify(referenceLinkResult()))), { dedupeKey: 'k', correlationId: 'c' });
    expect(fromBridge.tasks).toEqual(fromPatchedCaldera.tasks);
    expect(fromBridge.tasks.map((t) => [t.status, t.detectionType, t.platform, t.connector, t.hostOs])).toEqual([
      ['pending', 'api', 'splunk', 'splunk', null],
      ['pending', 'agent', 'windows', 'psh', 'windows'],
      ['pending', 'agent', 'linux', 'sh', 'linux'],
      ['pending', 'agent', 'darwin', 'sh', 'darwin'],
      ['pending', 'api', 'cym', 'cym', null],
    ]);
  });
});
