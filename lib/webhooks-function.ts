import path from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { BUNDLE_ALIASES } from './bundle-aliases.js';

/** The repository root: entries, the lock file and the tsconfig are resolved from here, whatever the cwd. */
const PROJECT_ROOT = path.join(import.meta.dirname, '..');

/** Powertools tags every log line and trace with this name. */
export const SERVICE_NAME = 'commbox-webhooks';

/**
 * esbuild's ESM output has no `require`; a dependency that still calls it (CommonJS inside the bundle)
 * needs one. The alias keeps the banner's import from clashing with a `createRequire` in the bundle.
 */
const ESM_REQUIRE_SHIM =
  "import { createRequire as __bannerCreateRequire } from 'node:module'; const require = __bannerCreateRequire(import.meta.url);";

/**
 * Context key: when true, esbuild also writes its metafile (`index.meta.json`, every input of the bundle)
 * next to each bundle, so a test can check what a bundle is made of. Off for a deployment: the metafile
 * would only make the asset larger.
 */
export const BUNDLE_METAFILE_CONTEXT = 'commbox-webhooks:bundleMetafile';

/** One entry of FUNCTIONS (lib/definitions.ts). */
export interface FunctionDefinition {
  /** The handler file, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
}

export interface WebhooksFunctionProps {
  /** Entry file, memory and timeout, from FUNCTIONS. */
  readonly definition: FunctionDefinition;
  /**
   * Memory in MB, instead of the definition's.
   * @default - definition.memoryMb
   */
  readonly memorySize?: number;
  /**
   * Timeout, instead of the definition's.
   * @default - definition.timeoutSeconds
   */
  readonly timeout?: Duration;
  /**
   * Concurrency reserved for this function (and the most it may use).
   * @default - none: the function draws on the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
  /**
   * Variables added to the defaults (POWERTOOLS_SERVICE_NAME, NODE_OPTIONS).
   * @default - the defaults only
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * How long the function's log group keeps its events.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /** @default - CloudFormation generates one */
  readonly description?: string;
  /**
   * Shell commands run after esbuild, to add files beside the bundle (the API's console). Given the
   * repository root and the bundle's folder.
   * @default - none
   */
  readonly afterBundling?: (inputDir: string, outputDir: string) => string[];
}

/**
 * A handler of this project with the settings every one of them shares, set once: Node 24 on arm64,
 * active tracing, its own log group with a retention, source maps, and an ESM bundle that carries the
 * AWS SDK v3 commands it imports (so it does not depend on the runtime's SDK version).
 */
export class WebhooksFunction extends NodejsFunction {
  /** The log group the function writes to (created here, so its retention is in the template). */
  public readonly functionLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WebhooksFunctionProps) {
    // Created before the function, in the parent scope: the function's props need it.
    const logGroup = new LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // The retention bounds what the group holds; a group kept after its stack is gone is only clutter.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // A role of its own instead of AWSLambdaBasicExecutionRole, whose log permissions cover every log
    // group of the account: this one writes to the function's own group only.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${id} function`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      role,
      entry: path.join(PROJECT_ROOT, props.definition.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? props.definition.memoryMb,
      timeout: props.timeout ?? Duration.seconds(props.definition.timeoutSeconds),
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        // Maps to file and line without embedding every source: a much smaller map to load and to ship.
        sourcesContent: false,
        target: 'node24',
        mainFields: ['module', 'main'],
        externalModules: [],
        banner: ESM_REQUIRE_SHIM,
        esbuildArgs: { '--alias': Object.entries(BUNDLE_ALIASES).map(([from, to]) => `${from}=${to}`) },
        forceDockerBundling: false,
        metafile: scope.node.tryGetContext(BUNDLE_METAFILE_CONTEXT) === true,
        ...(props.afterBundling
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: props.afterBundling,
              },
            }
          : {}),
      },
    });

    this.functionLogGroup = logGroup;
    Validations.of(role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permission, so their resource is *.',
    });
  }
}
