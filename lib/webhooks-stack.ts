import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** The deployable stack. It holds the WebhooksService construct once that exists (issue #3). */
export class WebhooksStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
  }
}
