/**
 * What fastify-plugin does, in three lines: a plugin marked `skip-override` shares the
 * caller's scope, so its decorators and hooks reach every route registered after it.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyPluginOptions } from 'fastify';

export function globalPlugin<O extends FastifyPluginOptions>(
  name: string,
  plugin: (app: FastifyInstance, options: O) => Promise<void>,
): FastifyPluginAsync<O> {
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: name,
  });
}
