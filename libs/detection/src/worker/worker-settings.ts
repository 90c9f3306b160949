import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { hostname } from 'node:os';
import type { DetectionType } from '@purple/contracts';
import { DetectionDefaultsEnv, DetectionSettings, detectionDefaultsOf } from '../semantics/settings';
import { secretValuesOf } from './secret-values';

/** A detection worker's environment: the common variables, the semantics' defaults and these. */
export class DetectionWorkerEnv extends DetectionDefaultsEnv {
  /** the name in `metadata.worker_id` of its responses; default `<app>-<hostname>-<pid>` */
  @IsOptional()
  @Matches(/^[\w.:-]{1,128}$/, { message: 'WORKER_ID must be 1-128 letters, digits, `_`, `.`, `:` or `-`' })
  WORKER_ID?: string;

  /**
   * Tasks one worker runs at once. Most of a task's time is spent waiting for the SIEM to ingest, so this can be
   * well above the CPU count.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  WORKER_PREFETCH = 10;
}

export interface WorkerSettings {
  detectionType: DetectionType;
  workerId: string;
  /** tasks in hand at once */
  prefetch: number;
  defaults: DetectionSettings & { maxWindowAfterSeconds: number };
  /** the worker's secret values, replaced in every response (see secret-values.ts) */
  secrets: readonly string[];
}

export const WORKER_SETTINGS = Symbol('WORKER_SETTINGS');

export function workerSettingsOf(
  app: string,
  detectionType: DetectionType,
  env: DetectionWorkerEnv,
  secretEnv: NodeJS.ProcessEnv = process.env,
  connectorSecrets: readonly string[] = [],
): WorkerSettings {
  return {
    detectionType,
    workerId: env.WORKER_ID ?? `${app}-${hostname()}-${process.pid}`,
    prefetch: env.WORKER_PREFETCH,
    defaults: detectionDefaultsOf(env),
    secrets: secretValuesOf(process.env, secretEnv, connectorSecrets),
  };
}

/** The worker's version in `metadata.version` of its responses. */
export const WORKER_VERSION = '1.0.0';
