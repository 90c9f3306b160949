import { MessageHandlerErrorBehavior, RabbitMQModule } from '@golevelup/nestjs-rabbitmq';
import { DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { CommonEnv } from '@purple/platform';
import { AppName, AppRole, roleOf } from '@purple/topology';
import { BrokerConnector } from './broker-connector';
import { MessageMetricsInterceptor } from './metrics';
import { ConfirmedPublisher } from './publisher';
import { APP_ROLE } from './tokens';

export interface MessagingOptions {
  /** messages in flight per consumer channel */
  prefetch?: number;
}

/**
 * The one RabbitMQ connection of an app, made as the app's own broker user (roles in @purple/topology).
 * It declares nothing: provisioning owns the topology and apps have no `configure` permission.
 */
@Module({})
export class MessagingModule {
  static forApp(app: AppName, options: MessagingOptions = {}): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      imports: [
        RabbitMQModule.forRootAsync({
          inject: [CommonEnv],
          useFactory: (env: CommonEnv) => {
            const role = roleOf(app, { namespace: env.BROKER_NAMESPACE });
            return {
              uri: {
                protocol: 'amqp',
                hostname: env.RABBITMQ_HOST,
                port: env.RABBITMQ_PORT,
                username: role.user,
                password: env.required(role.passwordEnv),
                // golevelup appends this to `amqp://host:port` as the URL's path: the vhost's own `/` must be escaped
                vhost: `/${encodeURIComponent(role.vhost)}`,
                heartbeat: 15,
              },
              connectionInitOptions: { wait: false },
              connectionManagerOptions: { reconnectTimeInSeconds: 2, connectionOptions: { clientProperties: { connection_name: app } } },
              prefetchCount: options.prefetch ?? 10,
              // the library's default requeues a failing message forever
              defaultSubscribeErrorBehavior: MessageHandlerErrorBehavior.NACK,
              enableDirectReplyTo: false,
              registerHandlers: true,
              defaultPublishOptions: { persistent: true },
              logger: new Logger('RabbitMQ'),
            };
          },
        }),
      ],
      providers: [
        {
          provide: APP_ROLE,
          inject: [CommonEnv],
          useFactory: (env: CommonEnv): AppRole => roleOf(app, { namespace: env.BROKER_NAMESPACE }),
        },
        BrokerConnector,
        ConfirmedPublisher,
        { provide: APP_INTERCEPTOR, useClass: MessageMetricsInterceptor },
      ],
      exports: [RabbitMQModule, APP_ROLE, BrokerConnector, ConfirmedPublisher],
    };
  }
}
