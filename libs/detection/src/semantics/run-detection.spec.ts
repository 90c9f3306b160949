import { DetectionTaskMessage } from '@purple/contracts';
import { ConnectorError, DetectionConnector, SearchOutcome, SearchRequest } from '../connectors/connector';
import { SPLUNK_QUERY_SYNTAX } from '../connectors/splunk/splunk-connector';
import { Clock } from './clock';
import { DetectionAbortedError, RunDetection } from './run-detection';
import { DetectionSettings } from './settings';

/** Time that only moves when the code under test sleeps. */
class VirtualClock implements Clock {
  constructor(public time: number) {}
  now = () => this.time;
  sleep = async (ms: number, signal?: AbortSignal) => {
    if (signal?.aborted) throw signal.reason;
    this.time += ms;
  };
}

/** A connector whose answers are scripted, recording when (virtual time) each search ran. */
class ScriptedConnector implements DetectionConnector {
  readonly name = 'scripted';
  readonly syntax = SPLUNK_QUERY_SYNTAX;
  readonly searchedAt: number[] = [];
  readonly requests: SearchRequest[] = [];
  constructor(
    private readonly clock: VirtualClock,
    private readonly answers: Array<SearchOutcome | ConnectorError | Error>,
  ) {}
  async search(request: SearchRequest): Promise<SearchOutcome> {
    this.searchedAt.push(this.clock.now());
    this.requests.push(request);
    const answer = this.answers.length > 1 ? this.answers.shift() : this.answers[0];
    if (answer instanceof Error) throw answer;
    return answer as SearchOutcome;
  }
}

const EXECUTED_AT = Date.parse('2025-01-10T12:00:00Z');
const miss: SearchOutcome = { eventsFound: 0, events: [], rawOutput: '' };
const hit: SearchOutcome = { eventsFound: 2, events: [{ id: '1:2', eventTime: new Date(EXECUTED_AT + 5000) }], rawOutput: 'two events' };
const settings: DetectionSettings = {
  windowBeforeSeconds: 60,
  windowAfterSeconds: 300,
  initialDelaySeconds: 30,
  retryIntervalSeconds: 60,
  maxConsecutiveFailures: 3,
  jitterSeconds: 0,
};

function task(overrides: Partial<DetectionTaskMessage> = {}): DetectionTaskMessage {
  return {
    task_id: 't-1',
    operation_id: 'op-1',
    detection_type: 'api',
    platform: 'siem',
    connector: 'scripted',
    execution_id: 'e-1',
    attempt: 1,
    query: { type: 'splunk_search', content: 'index=main host={{host}}', timeout_seconds: 30 },
    metadata: {
      priority: 'medium',
      created_at: new Date(EXECUTED_AT + 1000).toISOString(),
      execution_context: {
        original_command: 'whoami',
        target_host: 'web-01',
        agent_paw: 'paw1',
        executed_at: new Date(EXECUTED_AT).toISOString(),
        link_id: 'link-7',
      },
    },
    ...overrides,
  } as DetectionTaskMessage;
}

describe('RunDetection (the detection semantics)', () => {
  const never = new AbortController().signal;

  it('waits for the initial delay, searches the window around the execution, and stops at the first match', async () => {
    const clock = new VirtualClock(EXECUTED_AT + 2000);
    const connector = new ScriptedConnector(clock, [miss, miss, hit]);
    const outcome = await new RunDetection(clock).execute(task(), connector, settings, never);

    expect(outcome).toMatchObject({ status: 'detected', eventsFound: 2, searches: 3, confidence: 1, query: 'index=main host="web-01"' });
    expect(outcome.events[0].id).toBe('1:2');
    expect(connector.searchedAt).toEqual([EXECUTED_AT + 30_000, EXECUTED_AT + 90_000, EXECUTED_AT + 150_000]);
    expect(connector.requests[0].earliest).toEqual(new Date(EXECUTED_AT - 60_000));
    expect(connector.requests[0].latest).toEqual(new Date(EXECUTED_AT + 300_000));
    expect(connector.requests[0].timeoutMs).toBe(30_000);
  });

  it('says not detected only after a search that ran once the window had closed', async () => {
    const clock = new VirtualClock(EXECUTED_AT);
    const connector = new ScriptedConnector(clock, [miss]);
    const outcome = await new RunDetection(clock).execute(task(), connector, settings, never);

    expect(outcome).toMatchObject({ status: 'not_detected', eventsFound: 0, searches: 6 });
    // 30 s delay, then every 60 s, the last one exactly when the window closes (300 s)
    expect(connector.searchedAt.map((t) => (t - EXECUTED_AT) / 1000)).toEqual([30, 90, 150, 210, 270, 300]);
  });

  it('searches once, at once, when the window closed long ago (a late or redelivered task)', async () => {
    const clock = new VirtualClock(EXECUTED_AT + 3_600_000);
    const connector = new ScriptedConnector(clock, [miss]);
    const outcome = await new RunDetection(clock).execute(task(), connector, settings, never);
    expect(outcome).toMatchObject({ status: 'not_detected', searches: 1 });
    expect(connector.searchedAt).toEqual([EXECUTED_AT + 3_600_000]);
  });

  it('answers error at once when the connector refuses (no retry storm on bad credentials)', async () => {
    const clock = new VirtualClock(EXECUTED_AT);
    const connector = new ScriptedConnector(clock, [new ConnectorError('splunk refused the credentials (HTTP 401)', false)]);
    const outcome = await new RunDetection(clock).execute(task(), connector, settings, never);
    expect(outcome).toMatchObject({ status: 'error', error: 'splunk refused the credentials (HTTP 401)', searches: 1, confidence: 0 });
  });

  it('answers error when the connector keeps failing, with the reason and the count', async () => {
    const clock = new VirtualClock(EXECUTED_AT);
    const connector = new ScriptedConnector(clock, [new ConnectorError('splunk answered HTTP 502', true)]);
    const outcome = await new RunDetection(clock).execute(task(), connector, settings, never);
    expect(outcome).toMatchObject({ status: 'error', error: 'splunk answered HTTP 502 (3 failures in a row)', searches: 3 });
  });

  it('recovers from a passing failure, and honours the wait a rate limit asked for', async () => {
    const clock = new VirtualClock(EXECUTED_AT);
    const connector = new ScriptedConnector(clock, [new ConnectorError('rate limited', true, 120_000), hit]);
    const outcome = await new RunDetection(clock).execute(task(), connector, settings, never);
    expect(outcome).toMatchObject({ status: 'detected', searches: 2 });
    expect(connector.searchedAt.map((t) => (t - EXECUTED_AT) / 1000)).toEqual([30, 150]);
  });

  it('cannot say not detected when the last search failed', async () => {
    const clock = new VirtualClock(EXECUTED_AT + 3_600_000);
    const connector = new ScriptedConnector(clock, [new ConnectorError('cannot reach splunk', true)]);
    const outcome = await new RunDetection(clock).execute(task(), connector, settings, never);
    expect(outcome).toMatchObject({ status: 'error', error: 'cannot reach splunk' });
  });

  it('treats an unexpected exception of a connector as a failed search', async () => {
    const clock = new VirtualClock(EXECUTED_AT + 3_600_000);
    const connector = new ScriptedConnector(clock, [new TypeError('x is undefined')]);
    const outcome = await new RunDetection(clock).execute(task(), connector, settings, never);
    expect(outcome).toMatchObject({ status: 'error', error: 'scripted search failed: x is undefined' });
  });

  it('fills built-in placeholders and the task’s own, the task’s winning', async () => {
    const clock = new VirtualClock(EXECUTED_AT + 3_600_000);
    const connector = new ScriptedConnector(clock, [miss]);
    const content = 'h={{host}} p={{paw}} u={{user}} c={{command}} m={{marker}} e={{earliest}} l={{latest}} t={{tenant}}';
    await new RunDetection(clock).execute(
      task({
        query: { type: 'splunk_search', content, timeout_seconds: 5 },
        detection_config: { placeholders: { user: 'bob', tenant: 'acme', host: 'WEB-01.corp' } },
      }),
      connector,
      settings,
      never,
    );
    const earliest = (EXECUTED_AT - 60_000) / 1000;
    const latest = (EXECUTED_AT + 300_000) / 1000;
    expect(connector.requests[0].query).toBe(
      `h="WEB-01.corp" p="paw1" u="bob" c="whoami" m="link-7" e="${earliest}" l="${latest}" t="acme"`,
    );
  });

  it('answers error without searching when a placeholder has no value', async () => {
    const clock = new VirtualClock(EXECUTED_AT);
    const connector = new ScriptedConnector(clock, [hit]);
    const outcome = await new RunDetection(clock).execute(
      task({ query: { type: 'splunk_search', content: 'user={{user}}', timeout_seconds: 5 } }),
      connector,
      settings,
      never,
    );
    expect(outcome).toMatchObject({ status: 'error', error: 'query template: no value for placeholder {{user}}', searches: 0 });
    expect(connector.searchedAt).toEqual([]);
  });

  it('times a hanging search out after the task’s timeout_seconds', async () => {
    const hanging: DetectionConnector = {
      name: 'hanging',
      syntax: SPLUNK_QUERY_SYNTAX,
      search: () => new Promise<SearchOutcome>(() => undefined),
    };
    const clock = new VirtualClock(EXECUTED_AT + 3_600_000);
    const outcome = await new RunDetection(clock).execute(
      task({ query: { type: 'splunk_search', content: 'x', timeout_seconds: 1 } }),
      hanging,
      settings,
      never,
    );
    expect(outcome).toMatchObject({ status: 'error', error: 'hanging search timed out after 1 s' });
  });

  it('gives up the task on shutdown, whether waiting or searching', async () => {
    const shutdown = new AbortController();
    shutdown.abort();
    const clock = new VirtualClock(EXECUTED_AT);
    await expect(new RunDetection(clock).execute(task(), new ScriptedConnector(clock, [miss]), settings, shutdown.signal)).rejects.toThrow(
      DetectionAbortedError,
    );

    const midSearch = new AbortController();
    const slow: DetectionConnector = {
      name: 'slow',
      syntax: SPLUNK_QUERY_SYNTAX,
      search: () => {
        setImmediate(() => midSearch.abort());
        return new Promise<SearchOutcome>(() => undefined);
      },
    };
    const late = new VirtualClock(EXECUTED_AT + 3_600_000);
    await expect(new RunDetection(late).execute(task(), slow, settings, midSearch.signal)).rejects.toThrow(DetectionAbortedError);
  });
});
