/**
 * Before `elt up` starts anything: every port it is about to listen on must be free. A taken
 * port is never swapped for another behind the user's back: `elt up` stops, naming the
 * service, the port and the variable that moves it (exit 2, nothing started).
 */
import { createServer } from 'node:net';
import { ConfigError } from '../errors.js';

export interface PortUse {
  service: string;
  port: number;
  variable: string;
}

/** Whether 127.0.0.1:port can be bound now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function checkPorts(uses: PortUse[]): Promise<void> {
  const seen = new Map<number, PortUse>();
  for (const use of uses) {
    const other = seen.get(use.port);
    if (other) {
      throw new ConfigError(
        `The ${use.service} and the ${other.service} would both listen on port ${use.port} (${use.variable} and ${other.variable}).`,
        `Give one of them another port, e.g. ${use.variable}=<free port> make up.`,
      );
    }
    seen.set(use.port, use);
  }
  for (const use of uses) {
    if (!(await portFree(use.port))) {
      throw new ConfigError(
        `The ${use.service} cannot listen on 127.0.0.1:${use.port}: the port is in use by another program. Nothing was started.`,
        `Stop that program, or set ${use.variable} to a free port (e.g. ${use.variable}=${use.port + 10000} make up).`,
      );
    }
  }
}
