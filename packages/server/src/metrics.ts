/** Prometheus metrics (one registry per server so several servers can live in one process). */
import * as tf from '@tensorflow/tfjs';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route'>;
  readonly batchSize: Histogram<'model'>;
  readonly examples: Counter<'model'>;
  readonly modelVersion: Gauge<'model'>;
  readonly loadedVersions: Gauge<'model'>;
  readonly eventStreams: Gauge;
  readonly eventStreamsDropped: Counter;

  constructor(defaultMetrics = true) {
    const registers = [this.registry];
    this.eventStreams = new Gauge({
      name: 'tuneserve_event_streams',
      help: 'Open /api/study/events streams',
      registers,
    });
    this.eventStreamsDropped = new Counter({
      name: 'tuneserve_event_streams_dropped_total',
      help: 'Event streams dropped because their reader stopped reading',
      registers,
    });
    this.requests = new Counter({
      name: 'tuneserve_http_requests_total',
      help: 'HTTP requests by method, route and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'tuneserve_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'tuneserve_batch_size',
      help: 'Examples per model call (micro-batching), by model',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.examples = new Counter({
      name: 'tuneserve_model_examples_total',
      help: 'Examples run through each model',
      labelNames: ['model'],
      registers,
    });
    this.modelVersion = new Gauge({
      name: 'tuneserve_model_version',
      help: 'Latest model version being served',
      labelNames: ['model'],
      registers,
    });
    this.loadedVersions = new Gauge({
      name: 'tuneserve_model_versions_loaded',
      help: 'Model versions currently loaded',
      labelNames: ['model'],
      registers,
    });
    new Gauge({
      name: 'tuneserve_tfjs_tensors',
      help: 'Live TF.js tensors (tf.memory().numTensors); stable over time means no leak',
      registers,
      collect() {
        this.set(tf.memory().numTensors);
      },
    });
    new Gauge({
      name: 'tuneserve_tfjs_bytes',
      help: 'Bytes held by TF.js tensors (tf.memory().numBytes)',
      registers,
      collect() {
        this.set(tf.memory().numBytes);
      },
    });
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'tuneserve_' });
  }
}
