/**
 * For the tests in deploy/test (run by the root Vitest): they cannot resolve aws-cdk-lib from
 * there, because this app's dependencies live only in deploy/aws/node_modules.
 */
export { App } from 'aws-cdk-lib';
export { Match, Template } from 'aws-cdk-lib/assertions';
export { CONTAINER_PORT, TuneserveStack } from './tuneserve-stack.ts';
export { CADDY_IMAGE, START_SCRIPT, TLS_HOW_TO } from './user-data.ts';
