import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseStackEnv, renderStackEnv, resolveSettings, stackEnv } from './settings.js';

describe('the local stack settings file', () => {
  it('takes each setting from the environment, else the previous stack.env, else its default', () => {
    const s = resolveSettings(
      { ELT_API_PORT: '6001' },
      { ELT_API_PORT: '7001', ELT_DESTINATION_PORT: '7434', ELT_API_TOKEN: 'kept-token-0123456789' },
    );
    expect(s.apiPort).toBe(6001);
    expect(s.destinationPort).toBe(7434);
    expect(s.sourcePort).toBe(5433);
    expect(s.apiToken).toBe('kept-token-0123456789');
    expect(s.airflow).toBe(true);
  });

  it('generates an API token when none was chosen, and keeps it in the file', () => {
    const s = resolveSettings({}, {});
    expect(s.apiToken).toMatch(/^[0-9a-f]{32}$/);
    expect(resolveSettings({}, stackEnv(s)).apiToken).toBe(s.apiToken);
  });

  it('points dbt and the URLs at the chosen ports', () => {
    const vars = stackEnv(resolveSettings({ ELT_DESTINATION_PORT: '27434', ELT_AIRFLOW: '0' }, {}));
    expect(vars.ELT_DBT_PORT).toBe('27434');
    expect(vars.ELT_DESTINATION_URL).toBe('postgres://postgres@127.0.0.1:27434/analytics');
    expect(vars.ELT_AIRFLOW).toBe('0');
  });

  it('reads back what it writes, quotes included', () => {
    const vars = { ELT_REPLICATOR_PASSWORD: "it's $HOME `x`", ELT_DAG_SCHEDULE: '*/5 * * * *' };
    expect(parseStackEnv(renderStackEnv(vars))).toEqual(vars);
  });

  it('refuses a port that is not one, naming the variable', () => {
    expect(() => resolveSettings({ ELT_API_PORT: '70000' }, {})).toThrow(ConfigError);
    expect(() => resolveSettings({ ELT_API_PORT: 'abc' }, {})).toThrow(/ELT_API_PORT=abc is not a port/);
    expect(() => resolveSettings({ ELT_AIRFLOW: 'no' }, {})).toThrow(/ELT_AIRFLOW=no is not 0 or 1/);
  });
});
