import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

const DESCRIPTION = `Communications backbone (clients, send/notify/receive) and checking-engine results.

Get a token from \`POST /token\` (client credentials), then use **Authorize** with it.

**WebSocket** \`/stream\` (not listed below): connect with \`Authorization: Bearer <token>\`, or from a browser with
the subprotocols \`["bearer", <token>]\`. The server sends \`{"type":"message", message_id, topic, sender, sent_at,
message}\` for each inbox message; send \`{"type":"send","topic":…,"message":…}\` or \`{"type":"notify","message":…}\`
(optionally with a \`request_id\`, and an \`idempotency_key\` that works as the \`Idempotency-Key\` header of
POST /send) and get \`{"type":"ack","message_id"}\` or \`{"type":"error","reason"}\`.`;

/** Swagger UI at /docs and the OpenAPI document at /docs-json, with a bearer token usable from the page. */
export function setupSwagger(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Purple backbone API')
    .setDescription(DESCRIPTION)
    .setVersion('0.1.0')
    .addBearerAuth()
    .addBasicAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
