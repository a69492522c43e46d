#!/usr/bin/env node
/**
 * CDK entry point (cdk.json runs it with tsx). Options come from CDK context:
 *   npx cdk deploy -c domainName=api.example.com -c ecrRepository=tuneserve --parameters ...
 */
import { App } from 'aws-cdk-lib';
import { TuneserveStack } from '../lib/tuneserve-stack.ts';

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === 'string' && value !== '' ? value : undefined;
};
new TuneserveStack(app, context('stackName') ?? 'Tuneserve', {
  description: 'tuneserve model server on one EC2 instance (SSM access, no SSH)',
  domainName: context('domainName'),
  ecrRepositoryName: context('ecrRepository'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
