import { DynamicModule, Module } from '@nestjs/common';
import { BRIDGE_SETTINGS, CalderaBridgeEnv, bridgeSettingsOf } from '../bridge-env';
import { CalderaRepository } from './caldera-repository';
import { PollLoop } from './poll-loop';
import { PublishFinishedLinks } from './publish-finished-links';
import { SentLinkRepository } from './sent-link-repository';

/** Caldera's finished links (REST API v2) → `caldera.execution.result`, each once, remembered in PostgreSQL. */
@Module({})
export class BridgeModule {
  static register(env: CalderaBridgeEnv): DynamicModule {
    return {
      module: BridgeModule,
      providers: [
        { provide: BRIDGE_SETTINGS, useValue: bridgeSettingsOf(env) },
        CalderaRepository,
        SentLinkRepository,
        PublishFinishedLinks,
        PollLoop,
      ],
    };
  }
}
