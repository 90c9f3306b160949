import { RabbitMQModule } from '@golevelup/nestjs-rabbitmq';
import { DynamicModule, Logger, Module } from '@nestjs/common';
import { CommonEnv } from '@purple/platform';
import { AppName, AppRole, roleOf } from '@purple/topology';
import { BrokerConnector } from './broker-connector';
import { brokerSocketOptions, brokerUris } from './broker-connection-options';
import { BrokerConnectionSource } from './consumers/broker-connection-source';
import { ConsumerFactory, QueueConsumerFactory } from './consumers/queue-consumer-factory';
import { ConfirmedPublisher } from './publisher';
import { APP_ROLE } from './tokens';

/**
 * The one RabbitMQ connection of an app, made as the app's own broker user (roles in @purple/topology).
 * It declares nothing: provisioning owns the topology and apps have no `configure` permission.
 */
@Module({})
export class MessagingModule {
  static forApp(app: AppName): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      imports: [
        RabbitMQModule.forRootAsync({
          inject: [CommonEnv],
          useFactory: (env: CommonEnv) => {
            const role = roleOf(app, { namespace: env.BROKER_NAMESPACE });
            return {
              uri: brokerUris(env, role, env.required(role.passwordEnv)),
              connectionInitOptions: { wait: false },
              connectionManagerOptions: { reconnectTimeInSeconds: 2, connectionOptions: brokerSocketOptions(env, app) },
              enableDirectReplyTo: false,
              registerHandlers: false,
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
        BrokerConnectionSource,
        { provide: ConsumerFactory, useClass: QueueConsumerFactory },
      ],
      exports: [RabbitMQModule, APP_ROLE, BrokerConnector, ConfirmedPublisher, ConsumerFactory],
    };
  }
}
