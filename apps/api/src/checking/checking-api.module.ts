import { Module } from '@nestjs/common';
import { CheckingModule } from '@purple/checking';
import { CheckingController } from './checking.controller';
import { ExportExecutionsCsv } from './export-executions-csv.use-case';
import { GetExecution } from './get-execution.use-case';
import { GetNavigatorLayer } from './get-navigator-layer.use-case';
import { GetOperation } from './get-operation.use-case';
import { ListExecutions } from './list-executions.use-case';
import { ListOperations } from './list-operations.use-case';

/** `/checking`: the checking engine's results, for readers with the `checking:read` scope. */
@Module({
  imports: [CheckingModule],
  controllers: [CheckingController],
  providers: [ListOperations, GetOperation, ListExecutions, GetExecution, GetNavigatorLayer, ExportExecutionsCsv],
})
export class CheckingApiModule {}
