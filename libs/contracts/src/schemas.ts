import { ClassConstructor } from 'class-transformer';
import { getMetadataStorage, MAX, MIN, ValidationTypes } from 'class-validator';
import { validationMetadataArrayToSchemas } from 'class-validator-jsonschema';
import { BusEnvelope, NotifyRequest, SendRequest } from './bus/envelope';
import { DetectionQuery, DetectionTaskMessage, ExecutionContext, TaskMetadata } from './checking/detection-task';
import { DetectionResponseMessage, DetectionResults, EvidenceItem, MatchFacts, ResponseMetadata } from './checking/detection-response';
import {
  AgentDetectionSpec,
  ApiDetectionSpec,
  DetectionConfig,
  DetectionListEntry,
  DetectionsMap,
} from './checking/detections';
import { ExecutionOutput, ExecutionResultMessage } from './checking/execution-result';
import { LinkExecution, LinkOperation, LinkOutput, LinkResultMessage } from './checking/link-result';

/** A JSON Schema (draft-07 compatible; nested classes are `$ref: '#/definitions/<Class>'`). */
export type JsonSchema = ReturnType<typeof validationMetadataArrayToSchemas>[string];

/** The top-level messages, by name. */
export const MESSAGE_CLASSES = {
  ExecutionResultMessage,
  LinkResultMessage,
  DetectionTaskMessage,
  DetectionResponseMessage,
  BusEnvelope,
  SendRequest,
  NotifyRequest,
} as const;
export type MessageName = keyof typeof MESSAGE_CLASSES;

/** Every contract class, top-level and nested. */
const CONTRACT_CLASSES: ClassConstructor<object>[] = [
  ...Object.values(MESSAGE_CLASSES),
  ExecutionOutput,
  ApiDetectionSpec,
  AgentDetectionSpec,
  DetectionsMap,
  DetectionListEntry,
  DetectionConfig,
  LinkOperation,
  LinkOutput,
  LinkExecution,
  DetectionQuery,
  ExecutionContext,
  TaskMetadata,
  DetectionResults,
  ResponseMetadata,
  EvidenceItem,
  MatchFacts,
];

const converters = {
  // The defaults also set `type: number`, which would overwrite `integer` from IsInt.
  [MIN]: (meta: { constraints: unknown[] }) => ({ minimum: meta.constraints[0] }),
  [MAX]: (meta: { constraints: unknown[] }) => ({ maximum: meta.constraints[0] }),
  // The default guesses custom checks' schemas from the TypeScript type; ours set theirs explicitly.
  [ValidationTypes.CUSTOM_VALIDATION]: {},
};

/**
 * JSON Schemas of all contract classes, keyed by class name. `{ definitions: messageJsonSchemas() }`
 * is a complete document; {@link messageJsonSchema} gives one message on its own.
 */
export function messageJsonSchemas(): Record<string, JsonSchema> {
  // Only this library's classes: the global metadata storage also holds other libraries' DTOs,
  // some of which may share a class name.
  const storage = getMetadataStorage();
  const metadatas = CONTRACT_CLASSES.flatMap((cls) =>
    storage.getTargetValidationMetadatas(cls, '', true, false).map((meta) => {
      // The generator picks a converter by constraint name (isIn, min, ...), which it would
      // otherwise look up itself only when reading the whole storage.
      const constraint = meta.constraintCls ? storage.getTargetValidatorConstraints(meta.constraintCls)[0] : undefined;
      return constraint ? { ...meta, type: constraint.name } : meta;
    }),
  );
  return validationMetadataArrayToSchemas(metadatas, { additionalConverters: converters });
}

function referencedNames(schema: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) schema.forEach((item) => referencedNames(item, found));
  else if (typeof schema === 'object' && schema !== null) {
    for (const [key, value] of Object.entries(schema)) {
      if (key === '$ref' && typeof value === 'string') found.add(value.replace('#/definitions/', ''));
      else referencedNames(value, found);
    }
  }
  return found;
}

/** One message's schema as a standalone document, with the definitions it refers to. */
export function messageJsonSchema(
  name: MessageName,
): JsonSchema & { $schema: string; definitions: Record<string, JsonSchema> } {
  const all = messageJsonSchemas();
  const definitions: Record<string, JsonSchema> = {};
  const queue = [...referencedNames(all[name])];
  while (queue.length) {
    const next = queue.shift() as string;
    if (definitions[next] || !all[next]) continue;
    definitions[next] = all[next];
    queue.push(...referencedNames(all[next]));
  }
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: name, ...all[name], definitions };
}
