import { Module } from '@nestjs/common';
import { CheckingModule } from '@purple/checking';
import { CheckingReadRepository } from './checking-read.repository';
import { CHECKING_QUERIES } from './checking-queries';
import { CheckingController } from './checking.controller';

/** `/checking`: the checking engine's results, for readers with the `checking:read` scope. */
@Module({
  imports: [CheckingModule],
  controllers: [CheckingController],
  providers: [CheckingReadRepository, ...CHECKING_QUERIES],
})
export class CheckingApiModule {}
