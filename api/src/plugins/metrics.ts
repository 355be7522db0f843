/**
 * Request metrics for Prometheus at GET /metrics: a counter and a duration histogram by
 * method, route (the route's pattern, never the raw URL) and status. Each app has its own
 * registry, so several apps in one process (tests, `elt up`) do not collide.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { globalPlugin } from './global-plugin.js';

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
  }
}

/** Requests that match no route share one label value, so scanners cannot blow up cardinality. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface MetricsOptions {
  /** Also collect the process metrics (CPU, memory, event loop); off in tests. */
  processMetrics?: boolean;
}

export const metricsPlugin = globalPlugin('metrics', async (app: FastifyInstance, options: MetricsOptions) => {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'elt_api_' });
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'elt_api_requests_total',
    help: 'HTTP requests served by the API, by method, route and status.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'elt_api_request_duration_seconds',
    help: 'Time to serve an HTTP request, by method, route and status.',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  app.decorate('metricsRegistry', registry);
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? UNMATCHED_ROUTE,
      status_code: String(reply.statusCode),
    };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
});
