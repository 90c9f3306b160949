import { Injectable, NotFoundException } from '@nestjs/common';
import { ExecutionRepository, GetTimeToDetect } from '@purple/checking';
import { NavigatorLayer, buildNavigatorLayer } from './navigator-layer';

@Injectable()
export class GetNavigatorLayer {
  constructor(
    private readonly executions: ExecutionRepository,
    private readonly timeToDetect: GetTimeToDetect,
  ) {}

  async execute(operationId: string): Promise<NavigatorLayer> {
    const operation = await this.executions.findOperation(operationId);
    if (!operation) throw new NotFoundException(`no operation ${operationId}`);
    const latency = new Map<string, Array<{ source: string; p50_ms: number; p90_ms: number }>>();
    for (const t of (await this.timeToDetect.execute(operationId)).techniques) {
      if (!t.technique_id) continue;
      const id = t.technique_id;
      latency.set(id, [...(latency.get(id) ?? []), t]);
    }
    return buildNavigatorLayer(operation, await this.executions.techniqueSummaries(operationId), latency);
  }
}
