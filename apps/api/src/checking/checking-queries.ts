import { Injectable, NotFoundException } from '@nestjs/common';
import { GetExecutionOutcomes, GetTimeToDetect } from '@purple/checking';
import { CheckingReadRepository, CoverageSummary, ExecutionFilter, ExecutionRow, OperationRow, TaskRow, TechniqueSummary } from './checking-read.repository';
import { executionsCsv } from './executions-csv';
import { NavigatorLayer, buildNavigatorLayer } from './navigator-layer';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

@Injectable()
export class ListOperations {
  constructor(private readonly read: CheckingReadRepository) {}

  async execute(limit: number, offset: number): Promise<Page<OperationRow & CoverageSummary>> {
    return { ...(await this.read.listOperations(limit, offset)), limit, offset };
  }
}

@Injectable()
export class GetOperation {
  constructor(private readonly read: CheckingReadRepository) {}

  async execute(operationId: string): Promise<OperationRow & CoverageSummary & { techniques: TechniqueSummary[] }> {
    const operation = await this.read.findOperation(operationId);
    if (!operation) throw new NotFoundException(`no operation ${operationId}`);
    return { ...operation, techniques: await this.read.techniqueSummaries(operationId) };
  }
}

@Injectable()
export class ListExecutions {
  constructor(private readonly read: CheckingReadRepository) {}

  async execute(filter: ExecutionFilter): Promise<Page<ExecutionRow>> {
    return { ...(await this.read.listExecutions(filter)), limit: filter.limit, offset: filter.offset };
  }
}

@Injectable()
export class GetExecution {
  constructor(
    private readonly read: CheckingReadRepository,
    private readonly outcomes: GetExecutionOutcomes,
  ) {}

  async execute(id: string): Promise<ExecutionRow & { tasks: TaskRow[] } & Awaited<ReturnType<GetExecutionOutcomes['execute']>>> {
    const execution = UUID.test(id) ? await this.read.findExecution(id) : null;
    if (!execution) throw new NotFoundException(`no execution ${id}`);
    return { ...execution, tasks: await this.read.tasksOf(id), ...(await this.outcomes.execute(id)) };
  }
}

@Injectable()
export class GetNavigatorLayer {
  constructor(
    private readonly read: CheckingReadRepository,
    private readonly timeToDetect: GetTimeToDetect,
  ) {}

  async execute(operationId: string): Promise<NavigatorLayer> {
    const operation = await this.read.findOperation(operationId);
    if (!operation) throw new NotFoundException(`no operation ${operationId}`);
    const latency = new Map<string, Array<{ source: string; p50_ms: number; p90_ms: number }>>();
    for (const t of (await this.timeToDetect.execute(operationId)).techniques) {
      if (!t.technique_id) continue;
      const id = t.technique_id;
      latency.set(id, [...(latency.get(id) ?? []), t]);
    }
    return buildNavigatorLayer(operation, await this.read.techniqueSummaries(operationId), latency);
  }
}

@Injectable()
export class ExportExecutionsCsv {
  constructor(private readonly read: CheckingReadRepository) {}

  async execute(operationId: string): Promise<string> {
    if (!(await this.read.findOperation(operationId))) throw new NotFoundException(`no operation ${operationId}`);
    return executionsCsv(await this.read.executionsOfOperation(operationId));
  }
}

export const CHECKING_QUERIES = [ListOperations, GetOperation, ListExecutions, GetExecution, GetNavigatorLayer, ExportExecutionsCsv];
