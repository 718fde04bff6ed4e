import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  type HttpStage,
  LogGroupLogDestination,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Archive, EventBus, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type * as z from 'zod';
import { TABLE } from '../lambdas/adapters/dynamo-table.js';
import { API_ROUTES, CONSOLE_ROUTES } from '../lambdas/api/routes.js';
import { MAX_RECEIVE_COUNT_ENV } from '../lambdas/commons/failed-records.js';
import { settingSchemas } from '../lambdas/config.js';
import { OPERATIONAL_EVENT_SOURCE } from '../lambdas/core/event-sources.js';
import { DEFAULT_RETRY_SCHEDULE } from '../lambdas/core/retry.js';
import { DEFAULTS, type DeliveryLogMode, ENV } from '../lambdas/environment.js';
import {
  FUNCTIONS,
  INGEST_MAX_CONCURRENCY,
  INGEST_RULE_PATTERN,
  QUEUES,
  type QueueDefinition,
} from './definitions.js';
import {
  createLaneAlarms,
  createWebhooksAlarms,
  deliveryAgeThreshold,
  type WebhooksAlarms,
} from './webhooks-alarms.js';
import { WebhooksFunction } from './webhooks-function.js';
import {
  addDedicatedLanes,
  type BuiltLane,
  type DedicatedLane,
  sharedIngestPattern,
  validateLanes,
} from './webhooks-lanes.js';
import { OperationalEvents } from './webhooks-operational-events.js';
import { grantLeastPrivilege } from './webhooks-permissions.js';
import { encryptSecretsAtRest } from './webhooks-secrets.js';

export type { DeliveryLogMode } from '../lambdas/environment.js';
export type { BuiltLane, DedicatedLane } from './webhooks-lanes.js';

export interface WebhooksServiceProps {
  /**
   * The bus producers put CommBox events on (an existing one, e.g. `EventBus.fromEventBusName`).
   * Do not combine with `eventBusName`.
   * @default - a new bus
   */
  readonly eventBus?: IEventBus;
  /**
   * The name of the new bus. Only when `eventBus` is not given.
   * @default - CloudFormation generates one
   */
  readonly eventBusName?: string;
  /**
   * What happens to the table when it leaves the stack (or the stack is deleted).
   * @default RemovalPolicy.RETAIN - subscriptions, their secrets and the delivery log are customer data:
   * a mistaken `cdk destroy` or a logical-id change must not delete them.
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * Whether CloudFormation (or anyone) is refused deleting the table until this is turned off.
   * @default - true, unless tableRemovalPolicy is DESTROY (a test stack)
   */
  readonly tableDeletionProtection?: boolean;
  /**
   * Also publish the operational events (`commbox.webhooks`) to this topic; they always go to the
   * construct's `operationalEvents.queue`.
   * @default - the queue only
   */
  readonly operationalEventsTopic?: ITopic;
  /**
   * How long the EventBridge archive keeps the ingest events (source `commbox`), for a replay after an
   * incident (docs/DEPLOY.md). `Duration.days(0)` keeps them forever.
   * @default Duration.days(30)
   */
  readonly archiveRetention?: Duration;
  /**
   * Retention of the functions' log groups.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * How long one POST to a listener may take; longer counts as a failed attempt. Less than the deliver
   * function's timeout.
   * @default Duration.seconds(15)
   */
  readonly deliveryTimeout?: Duration;
  /**
   * Seconds to wait before each attempt, for subscriptions that set no schedule of their own; its length
   * is the number of attempts (1 to 20, each 0 to 43,200 s: SQS delays a message at most 12 h).
   * @default - the built-in schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
   */
  readonly retrySchedule?: readonly number[];
  /**
   * Events and deliveries expire from the table (TTL) this many days after they were written.
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * A subscription whose deliveries keep failing for this many days is disabled, with the reason.
   * @default 5
   */
  readonly disableAfterDays?: number;
  /**
   * `full` records every delivery; `failures` skips deliveries that succeed at their first attempt.
   * @default 'full'
   */
  readonly deliveryLog?: DeliveryLogMode;
  /**
   * Most concurrent route invocations (the ingest event source mapping's `MaximumConcurrency`, 2 to
   * 1,000). With `deliveryMaxConcurrency`, what the queue consumers can take of the account's Lambda
   * concurrency: the API's functions keep the rest.
   * @default INGEST_MAX_CONCURRENCY (16, lib/definitions.ts)
   */
  readonly ingestMaxConcurrency?: number;
  /**
   * Most concurrent deliver invocations (the delivery event source mapping's `MaximumConcurrency`, 2 to
   * 1,000); each holds up to 10 deliveries, so 50 means up to 500 POSTs in flight.
   * @default 50
   */
  readonly deliveryMaxConcurrency?: number;
  /**
   * Memory, timeout and reserved concurrency of each function; what is not set keeps its default. A
   * queue's visibility timeout grows with its consumer's timeout (six times it, as AWS advises).
   * @default - FUNCTIONS (lib/definitions.ts): api 512 MB / 29 s, authorizer 256 MB / 10 s, route 512 MB /
   * 30 s, deliver 512 MB / 60 s; no reserved concurrency
   */
  readonly functions?: WebhooksFunctionsSettings;
  /**
   * Brands with a lane of their own: a delivery queue (+ DLQ) and an event source mapping on the deliver
   * function with its own `maxConcurrency`, so their backlog never delays another brand's deliveries
   * (retries and resends stay in the lane); `ownIngest` also gives a brand its own rule and ingest queue.
   * `deliveryMaxConcurrency` is then the shared lane's. docs/DEPLOY.md, "Dedicated lanes".
   * @default - none: every brand shares the delivery queue
   */
  readonly dedicatedLanes?: readonly DedicatedLane[];
  /**
   * The most subscriptions one brand may have: one event fans out to each, so this bounds what one
   * brand's event costs the others. One more is refused with 409 `subscription_quota_exceeded`.
   * @default 100
   */
  readonly maxSubscriptionsPerBrand?: number;
  /**
   * Throttling of the API's default stage, for all clients together.
   * @default - { rateLimit: 100, burstLimit: 200 }
   */
  readonly apiThrottle?: ThrottleSettings;
  /**
   * Where every alarm notifies (on alarm and on recovery). docs/RUNBOOK.md has a section per alarm.
   * @default - a new topic (`alarmTopic` of the construct), with `alarmEmails` subscribed
   */
  readonly alarmTopic?: ITopic;
  /**
   * E-mail addresses subscribed to the alarm topic (each confirms by mail once).
   * @default - none: subscribe a person, a pager or a chat hook to `alarmTopic` yourself
   */
  readonly alarmEmails?: readonly string[];
  /**
   * Age of the oldest delivery message above which the delivery-queue-age alarm fires. SQS counts age
   * from a message's first send and a retry keeps its message, so raise it when subscriptions set
   * retry schedules longer than the default one.
   * @default - the total of `retrySchedule` (or the built-in schedule) plus one hour
   */
  readonly deliveryAgeAlarmThreshold?: Duration;
  /**
   * The KMS key that wraps the data keys encrypting signing secrets and client keys in the table. Its key
   * policy must let this account's IAM policies grant its use (the default key policy does).
   * @default - a new customer-managed key with yearly rotation, removed with the table (`tableRemovalPolicy`)
   */
  readonly secretsKey?: IKey;
}

/** Settings of one function of the service; each one not set keeps its default. */
export interface WebhooksFunctionSettings {
  /**
   * Memory in MB (128 to 10,240); Lambda gives CPU in proportion.
   * @default - the function's entry in FUNCTIONS (lib/definitions.ts)
   */
  readonly memorySize?: number;
  /**
   * How long one invocation may run (whole seconds, 1 s to 15 min; the api's at most 30 s, the HTTP API's
   * integration timeout).
   * @default - the function's entry in FUNCTIONS (lib/definitions.ts)
   */
  readonly timeout?: Duration;
  /**
   * Concurrency reserved for the function, which is also the most it may use. For route and deliver, at
   * least their event source mapping's maximum concurrency (`ingestMaxConcurrency`,
   * `deliveryMaxConcurrency`), or the mapping gets throttled.
   * @default - none: the function uses the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
}

/** Per-function settings, by function. */
export interface WebhooksFunctionsSettings {
  /** @default - FUNCTIONS.api: 512 MB, 29 s, no reserved concurrency */
  readonly api?: WebhooksFunctionSettings;
  /** @default - FUNCTIONS.authorizer: 256 MB, 10 s, no reserved concurrency */
  readonly authorizer?: WebhooksFunctionSettings;
  /** @default - FUNCTIONS.route: 512 MB, 30 s, no reserved concurrency */
  readonly route?: WebhooksFunctionSettings;
  /** @default - FUNCTIONS.deliver: 512 MB, 60 s, no reserved concurrency */
  readonly deliver?: WebhooksFunctionSettings;
}

/** Lambda memory, in MB: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html */
const LAMBDA_MEMORY_MB = { min: 128, max: 10_240 } as const;
/** Lambda's longest timeout: https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html */
const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
/** HTTP API integration timeout: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html */
const HTTP_API_INTEGRATION_TIMEOUT_SECONDS = 30;
/**
 * A source queue's visibility timeout should be at least six times its consumer's timeout:
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
const VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT = 6;

/** The longest SNS topic display name (CreateTopic, DisplayName): https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html */
const SNS_DISPLAY_NAME_MAX_LENGTH = 100;
const DEFAULT_API_THROTTLE: ThrottleSettings = { rateLimit: 100, burstLimit: 200 };
/** SQS's longest; longer than the source queues' (QUEUES), since SQS expires a dead letter by its first send. */
const DLQ_RETENTION = Duration.days(14);
const DEFAULT_ARCHIVE_RETENTION = Duration.days(30);
/**
 * One JSON line per request: who (source IP, the authorizer's brand, the key's id and whether the key
 * itself or a console session made with it was presented), what (route, status, size), how long, and why
 * it failed. Never a header or a body, so no API key or session token reaches the log.
 */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    time: '$context.requestTime',
    ip: '$context.identity.sourceIp',
    routeKey: '$context.routeKey',
    status: '$context.status',
    responseLength: '$context.responseLength',
    latencyMs: '$context.responseLatency',
    integrationLatencyMs: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    brand: '$context.authorizer.brand',
    keyId: '$context.authorizer.keyId',
    credential: '$context.authorizer.credential',
    authorizerError: '$context.authorizer.error',
  }),
);
/**
 * The whole webhook pipeline: EventBridge bus and rule → ingest queue → route → delivery queue →
 * deliver → listeners, the table, and the HTTP API (with its API-key authorizer) that manages
 * subscriptions. Every queue has a DLQ, every function only the permissions it uses.
 */
export class WebhooksService extends Construct {
  public readonly eventBus: IEventBus;
  public readonly ingestRule: Rule;
  /** The platform's own events (subscription disabled, delivery exhausted, ...): a queue to consume. */
  public readonly operationalEvents: OperationalEvents;
  /** The ingest events, kept for `archiveRetention`; `aws events start-replay` sends them again. */
  public readonly ingestArchive: Archive;
  public readonly table: Table;
  public readonly ingestQueue: Queue;
  public readonly ingestDlq: Queue;
  public readonly deliveryQueue: Queue;
  public readonly deliveryDlq: Queue;
  /** The dedicated lanes (`dedicatedLanes`), in the order given. */
  public readonly lanes: readonly BuiltLane[];
  public readonly apiFunction: WebhooksFunction;
  public readonly authorizerFunction: WebhooksFunction;
  public readonly routeFunction: WebhooksFunction;
  public readonly deliverFunction: WebhooksFunction;
  public readonly httpApi: HttpApi;
  /** The `$default` stage, with the throttling; `apiUrl` is its URL. */
  public readonly apiStage: HttpStage;
  public readonly apiUrl: string;
  /** One JSON line per API request (ACCESS_LOG_FORMAT); kept when the stack is deleted. */
  public readonly apiAccessLogGroup: LogGroup;
  public readonly alarms: WebhooksAlarms;
  /** Each dedicated lane's alarms: DLQ depth and queue age, of its ingest queue too when it has one. */
  public readonly laneAlarms: readonly Alarm[];
  /** The topic every alarm notifies: the one given as a prop, or one created here. */
  public readonly alarmTopic: ITopic;
  /** Wraps the data keys of secret fields; only the api (GenerateDataKey, Decrypt) and deliver (Decrypt) use it. */
  public readonly secretsKey: IKey;

  constructor(scope: Construct, id: string, props: WebhooksServiceProps = {}) {
    super(scope, id);
    validateProps(props);

    this.eventBus = props.eventBus ?? new EventBus(this, 'EventBus', { eventBusName: props.eventBusName });
    const tableRemovalPolicy = props.tableRemovalPolicy ?? RemovalPolicy.RETAIN;
    this.table = this.createTable(
      tableRemovalPolicy,
      props.tableDeletionProtection ?? tableRemovalPolicy !== RemovalPolicy.DESTROY,
    );

    const functions = functionSettings(props);
    ({ queue: this.ingestQueue, dlq: this.ingestDlq } = this.createQueueWithDlq(
      'Ingest',
      QUEUES.ingest,
      functions.route.timeout,
    ));
    ({ queue: this.deliveryQueue, dlq: this.deliveryDlq } = this.createQueueWithDlq(
      'Delivery',
      QUEUES.delivery,
      functions.deliver.timeout,
    ));

    // Events EventBridge cannot hand to the queue go to the ingest DLQ: same body, same redrive.
    this.ingestRule = new Rule(this, 'IngestRule', {
      eventBus: this.eventBus,
      description: 'CommBox entity events to the ingest queue',
      // Brands with an ingest lane of their own have their own rule (lib/webhooks-lanes.ts).
      eventPattern: sharedIngestPattern(
        (props.dedicatedLanes ?? []).filter((lane) => lane.ownIngest).map((lane) => lane.brand),
      ),
      targets: [new SqsQueue(this.ingestQueue, { deadLetterQueue: this.ingestDlq })],
    });
    this.operationalEvents = new OperationalEvents(this, 'OperationalEvents', {
      eventBus: this.eventBus,
      ...(props.operationalEventsTopic ? { topic: props.operationalEventsTopic } : {}),
    });
    // What the rule routes, kept so a team can replay the bus after an incident.
    this.ingestArchive = new Archive(this, 'IngestArchive', {
      sourceEventBus: this.eventBus,
      description: 'CommBox entity events (source commbox), for replay after an incident',
      eventPattern: { source: [...INGEST_RULE_PATTERN.source] },
      retention: props.archiveRetention ?? DEFAULT_ARCHIVE_RETENTION,
    });

    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const tableEnv = { [ENV.tableName]: this.table.tableName };
    const queueEnv = { [ENV.deliveryQueueUrl]: this.deliveryQueue.queueUrl };
    // One set for every function that reads delivery settings, so they can never disagree.
    const settingsEnv = deliverySettingsEnvironment(props);

    this.apiFunction = new WebhooksFunction(this, 'Api', {
      ...functions.api,
      description: 'Webhooks API: subscriptions, secrets, test events, delivery log, resend, replay',
      logRetention,
      environment: { ...tableEnv, ...queueEnv, ...settingsEnv },
      // The console's files, built from console/src into the bundle's folder (lambdas/api/console.ts reads them).
      afterBundling: (inputDir, outputDir) => [
        `cd "${inputDir}" && node --import tsx console/build.ts "${outputDir}/console"`,
      ],
    });
    this.authorizerFunction = new WebhooksFunction(this, 'Authorizer', {
      ...functions.authorizer,
      description: "Webhooks API authorizer: API key to the key's brand",
      logRetention,
      environment: tableEnv,
    });
    this.routeFunction = new WebhooksFunction(this, 'Route', {
      ...functions.route,
      description: 'Matches each event to subscriptions, one delivery message per match',
      logRetention,
      environment: {
        ...tableEnv,
        ...queueEnv,
        ...settingsEnv,
        [MAX_RECEIVE_COUNT_ENV]: String(QUEUES.ingest.maxReceiveCount),
      },
    });
    this.deliverFunction = new WebhooksFunction(this, 'Deliver', {
      ...functions.deliver,
      description: 'Signs and POSTs one delivery per message, retries on the schedule',
      logRetention,
      // The queue URL too: a retry is a new, delayed message on the delivery queue.
      environment: {
        ...tableEnv,
        ...queueEnv,
        [ENV.eventBusName]: this.eventBus.eventBusName,
        ...settingsEnv,
        [MAX_RECEIVE_COUNT_ENV]: String(QUEUES.delivery.maxReceiveCount),
      },
    });

    grantLeastPrivilege({
      table: this.table,
      indexName: TABLE.indexes[0].indexName,
      deliveryQueue: this.deliveryQueue,
      eventBus: this.eventBus,
      functions: {
        api: this.apiFunction,
        authorizer: this.authorizerFunction,
        route: this.routeFunction,
        deliver: this.deliverFunction,
      },
    });
    this.reserveOperationalSource();
    this.secretsKey = encryptSecretsAtRest(this, {
      ...(props.secretsKey ? { key: props.secretsKey } : {}),
      removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
      writers: [this.apiFunction],
      readers: [this.deliverFunction],
    });
    this.connectQueues(
      props.ingestMaxConcurrency ?? INGEST_MAX_CONCURRENCY,
      props.deliveryMaxConcurrency ?? 50,
    );
    this.lanes = addDedicatedLanes(this, props.dedicatedLanes ?? [], {
      eventBus: this.eventBus,
      queueWithDlq: (name, definition) =>
        this.createQueueWithDlq(
          name,
          definition,
          definition === QUEUES.ingest ? functions.route.timeout : functions.deliver.timeout,
        ),
      functions: { api: this.apiFunction, route: this.routeFunction, deliver: this.deliverFunction },
    });
    this.apiAccessLogGroup = new LogGroup(this, 'ApiAccessLogs', {
      retention: logRetention,
      // An audit trail of who called the API as which brand: deleting the stack must not erase it.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    ({ httpApi: this.httpApi, stage: this.apiStage } = this.createHttpApi(
      props.apiThrottle ?? DEFAULT_API_THROTTLE,
      this.apiAccessLogGroup,
    ));
    this.apiUrl = this.apiStage.url;
    this.alarmTopic = props.alarmTopic ?? this.createAlarmTopic();
    for (const email of props.alarmEmails ?? [])
      this.alarmTopic.addSubscription(new EmailSubscription(email));
    this.alarms = createWebhooksAlarms(this, {
      ingestQueue: this.ingestQueue,
      ingestDlq: this.ingestDlq,
      deliveryQueue: this.deliveryQueue,
      deliveryDlq: this.deliveryDlq,
      httpApi: this.httpApi,
      functions: {
        api: this.apiFunction,
        authorizer: this.authorizerFunction,
        route: this.routeFunction,
        deliver: this.deliverFunction,
      },
      deliveryAgeThreshold:
        props.deliveryAgeAlarmThreshold ??
        deliveryAgeThreshold(props.retrySchedule ?? DEFAULT_RETRY_SCHEDULE),
      topic: this.alarmTopic,
    });
    this.laneAlarms = this.lanes.flatMap((lane) =>
      createLaneAlarms(this, lane, {
        topic: this.alarmTopic,
        deliveryAgeThreshold:
          props.deliveryAgeAlarmThreshold ??
          deliveryAgeThreshold(props.retrySchedule ?? DEFAULT_RETRY_SCHEDULE),
      }),
    );
  }

  private createAlarmTopic(): Topic {
    // Not KMS-encrypted: alarm notifications carry alarm names and states, no customer data (pass an
    // encrypted topic as alarmTopic to have one).
    // The display name is the sender of the alarm mails: it says which stage (stack) is alarming.
    return new Topic(this, 'AlarmTopic', {
      displayName: `CommBox webhooks alarms: ${this.deploymentName()}`.slice(0, SNS_DISPLAY_NAME_MAX_LENGTH),
      enforceSSL: true,
    });
  }

  /**
   * The stack name and the construct's path in it (`CommBoxWebhooks-prod-Webhooks`): the names that
   * CloudFormation does not generate from the stack name are built from this, so two stages (two stacks)
   * in one account and region never share one.
   */
  private deploymentName(): string {
    const stack = Stack.of(this);
    const below = this.node.scopes.slice(this.node.scopes.indexOf(stack) + 1).map((scope) => scope.node.id);
    return [stack.stackName, ...below].join('-');
  }

  private createTable(removalPolicy: RemovalPolicy, deletionProtection: boolean): Table {
    const table = new Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE.timeToLiveAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy,
      deletionProtection,
    });
    for (const index of TABLE.indexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }
    return table;
  }

  private createQueueWithDlq(
    name: string,
    definition: QueueDefinition,
    consumerTimeout: Duration,
  ): { queue: Queue; dlq: Queue } {
    const dlq = new Queue(this, `${name}Dlq`, {
      retentionPeriod: DLQ_RETENTION,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const queue = new Queue(this, `${name}Queue`, {
      visibilityTimeout: Duration.seconds(
        Math.max(
          definition.visibilityTimeoutSeconds,
          VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT * consumerTimeout.toSeconds(),
        ),
      ),
      retentionPeriod: Duration.seconds(definition.retentionSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: dlq, maxReceiveCount: definition.maxReceiveCount },
    });
    return { queue, dlq };
  }

  /**
   * Only the deliver function may put events with the service's own source (its operational events) on
   * the bus: any other principal allowed to put events could otherwise forge `Subscription.Recovered` and
   * the like. A bus this construct did not create has no policy it can change: its owner must add this
   * statement (docs/RELIABILITY.md), and synthesis warns.
   */
  private reserveOperationalSource(): void {
    const role = this.deliverFunction.role;
    if (!role) throw new Error('WebhooksService: the deliver function has no role');
    const statement = new PolicyStatement({
      sid: 'OnlyTheServicePutsItsOperationalEvents',
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ['events:PutEvents'],
      resources: [this.eventBus.eventBusArn],
      conditions: {
        StringEquals: { 'events:source': OPERATIONAL_EVENT_SOURCE },
        ArnNotEquals: { 'aws:PrincipalArn': role.roleArn },
      },
    });
    const added =
      this.eventBus instanceof EventBus && this.eventBus.addToResourcePolicy(statement).statementAdded;
    if (!added)
      Annotations.of(this).addWarningV2(
        'commbox-webhooks:operational-source',
        `The imported bus needs a policy that denies events:PutEvents with source ${OPERATIONAL_EVENT_SOURCE} to every principal but the deliver function's role (docs/RELIABILITY.md)`,
      );
  }

  private connectQueues(ingestMaxConcurrency: number, deliveryMaxConcurrency: number): void {
    // MaximumConcurrency bounds each mapping (without it one scales to ~1,250 invocations), so a delivery
    // backlog cannot take the concurrency the authorizer and the API need to answer people.
    const eventSource = (queue: Queue, definition: QueueDefinition, maxConcurrency: number) =>
      new SqsEventSource(queue, {
        batchSize: definition.batchSize,
        maxBatchingWindow: Duration.seconds(definition.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency,
      });
    this.routeFunction.addEventSource(eventSource(this.ingestQueue, QUEUES.ingest, ingestMaxConcurrency));
    this.deliverFunction.addEventSource(
      eventSource(this.deliveryQueue, QUEUES.delivery, deliveryMaxConcurrency),
    );
  }

  private createHttpApi(
    throttle: ThrottleSettings,
    accessLogs: LogGroup,
  ): { httpApi: HttpApi; stage: HttpStage } {
    // The default stage is created here rather than by HttpApi: only a stage created this way takes throttling.
    const httpApi = new HttpApi(this, 'HttpApi', {
      apiName: this.deploymentName(),
      description: 'CommBox webhooks: subscriptions and the delivery log',
      createDefaultStage: false,
    });
    const stage = httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });

    const authorizer = new HttpLambdaAuthorizer('ApiKeyAuthorizer', this.authorizerFunction, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      // No caching: a revoked key stops working at once.
      resultsCacheTtl: Duration.seconds(0),
      identitySource: ['$request.header.Authorization'],
    });
    const integration = new HttpLambdaIntegration('ApiIntegration', this.apiFunction);
    for (const route of [...API_ROUTES, ...CONSOLE_ROUTES]) {
      const [added] = httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        ...(route.authorized ? { authorizer } : {}),
      });
      if (!route.authorized && added) {
        Validations.of(added).acknowledge({
          id: 'AwsSolutions::AwsSolutions-APIG4',
          reason: `${route.method} ${route.path} is public on purpose (lambdas/api/routes.ts): it serves the event catalogue, the API description or the console's static files, the same for every brand, and reads no brand's data.`,
        });
      }
    }
    return { httpApi, stage };
  }
}

type FunctionName = keyof typeof FUNCTIONS;

/** Each function's definition with the props' settings over it: what WebhooksFunction takes. */
function functionSettings(props: WebhooksServiceProps) {
  const settings = (name: FunctionName) => {
    const given = props.functions?.[name] ?? {};
    return {
      definition: FUNCTIONS[name],
      memorySize: given.memorySize ?? FUNCTIONS[name].memoryMb,
      timeout: given.timeout ?? Duration.seconds(FUNCTIONS[name].timeoutSeconds),
      ...(given.reservedConcurrency === undefined ? {} : { reservedConcurrency: given.reservedConcurrency }),
    };
  };
  return {
    api: settings('api'),
    authorizer: settings('authorizer'),
    route: settings('route'),
    deliver: settings('deliver'),
  };
}

/** The settings the handlers read (lambdas/config.ts); unset ones fall back to the handlers' defaults. */
function deliverySettingsEnvironment(props: WebhooksServiceProps): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.deliveryTimeoutMs]: String(props.deliveryTimeout?.toMilliseconds() ?? DEFAULTS.deliveryTimeoutMs),
    [ENV.retentionDays]: String(props.retentionDays ?? DEFAULTS.retentionDays),
    [ENV.disableAfterDays]: String(props.disableAfterDays ?? DEFAULTS.disableAfterDays),
    [ENV.deliveryLog]: props.deliveryLog ?? DEFAULTS.deliveryLog,
    [ENV.maxSubscriptionsPerBrand]: String(
      props.maxSubscriptionsPerBrand ?? DEFAULTS.maxSubscriptionsPerBrand,
    ),
  };
  if (props.retrySchedule) env[ENV.retrySchedule] = props.retrySchedule.join(',');
  return env;
}

/** Rejects props that contradict each other or that the handlers would refuse at their first start. */
function validateProps(props: WebhooksServiceProps): void {
  if (props.eventBus && props.eventBusName !== undefined) {
    throw new Error('WebhooksService: give either eventBus or eventBusName, not both');
  }
  const check = (name: string, schema: z.ZodType, value: unknown) => {
    const result = schema.safeParse(value);
    if (!result.success) {
      const reasons = result.error.issues.map((issue) => {
        const at = issue.path.reduce<unknown>(
          (item, key) => (item as Record<PropertyKey, unknown>)?.[key],
          value,
        );
        return issue.path.length > 0 ? `${JSON.stringify(at)}: ${issue.message}` : issue.message;
      });
      throw new Error(`WebhooksService: ${name} is not valid: ${reasons.join('; ')}`);
    }
  };
  if (props.retrySchedule) check('retrySchedule', settingSchemas.retrySchedule, props.retrySchedule);
  validateFunctionSettings(props);
  if (props.deliveryTimeout) {
    const functionSeconds = functionSettings(props).deliver.timeout.toSeconds();
    const timeout = settingSchemas.deliveryTimeoutMs.max(
      functionSeconds * 1000 - 1,
      `must be below the deliver function's timeout (${functionSeconds} s)`,
    );
    check('deliveryTimeout', timeout, props.deliveryTimeout.toMilliseconds());
  }
  for (const [name, value] of [
    ['ingestMaxConcurrency', props.ingestMaxConcurrency],
    ['deliveryMaxConcurrency', props.deliveryMaxConcurrency],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 2 || value > 1000)) {
      throw new Error(
        `WebhooksService: ${name} must be a whole number from 2 to 1000 (SQS event source mappings)`,
      );
    }
  }
  validateLanes(
    props.dedicatedLanes ?? [],
    props.deliveryMaxConcurrency ?? 50,
    props.functions?.deliver?.reservedConcurrency,
  );
  if (props.retentionDays !== undefined) check('retentionDays', settingSchemas.days, props.retentionDays);
  if (props.disableAfterDays !== undefined)
    check('disableAfterDays', settingSchemas.days, props.disableAfterDays);
  if (props.deliveryLog !== undefined) check('deliveryLog', settingSchemas.deliveryLog, props.deliveryLog);
  if (props.maxSubscriptionsPerBrand !== undefined)
    check(
      'maxSubscriptionsPerBrand',
      settingSchemas.maxSubscriptionsPerBrand,
      props.maxSubscriptionsPerBrand,
    );
}

/** Memory, timeouts and reserved concurrency within Lambda's limits, and consistent with the mappings'. */
function validateFunctionSettings(props: WebhooksServiceProps): void {
  const mappingConcurrency: Partial<Record<FunctionName, [string, number]>> = {
    route: ['ingestMaxConcurrency', props.ingestMaxConcurrency ?? INGEST_MAX_CONCURRENCY],
    deliver: ['deliveryMaxConcurrency', props.deliveryMaxConcurrency ?? 50],
  };
  for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
    const given = props.functions?.[name];
    if (!given) continue;
    const fail = (field: string, reason: string) => {
      throw new Error(`WebhooksService: functions.${name}.${field} ${reason}`);
    };
    const { memorySize, timeout, reservedConcurrency } = given;
    if (
      memorySize !== undefined &&
      (!Number.isInteger(memorySize) ||
        memorySize < LAMBDA_MEMORY_MB.min ||
        memorySize > LAMBDA_MEMORY_MB.max)
    )
      fail(
        'memorySize',
        `must be a whole number of MB from ${LAMBDA_MEMORY_MB.min} to ${LAMBDA_MEMORY_MB.max}`,
      );
    if (timeout !== undefined) {
      const seconds = timeout.toMilliseconds() / 1000;
      const max = name === 'api' ? HTTP_API_INTEGRATION_TIMEOUT_SECONDS : LAMBDA_MAX_TIMEOUT_SECONDS;
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > max)
        fail('timeout', `must be whole seconds from 1 to ${max} (is ${seconds} s)`);
    }
    if (reservedConcurrency !== undefined) {
      if (!Number.isInteger(reservedConcurrency) || reservedConcurrency < 1)
        fail('reservedConcurrency', 'must be a whole number of at least 1');
      const mapping = mappingConcurrency[name];
      if (mapping && reservedConcurrency < mapping[1])
        fail(
          'reservedConcurrency',
          `(${reservedConcurrency}) must be at least ${mapping[0]} (${mapping[1]}), or its queue's mapping is throttled`,
        );
    }
  }
}
