import { describe, expect, it } from 'vitest';
import { loadConfig, settingDefaults } from './config.js';

const urls = { ELT_SOURCE_URL: 'postgres://u:p@src:5433/shop', ELT_DESTINATION_URL: 'postgresql://u@dst:5434/analytics' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig(urls)).toMatchObject({
      slot: 'elt_slot',
      publication: 'elt_pub',
      sourceSchemas: ['public'],
      targetSchema: 'staging',
      metricsPort: 9464,
      deleteMode: 'hard',
    });
  });

  it('shows the schema\'s defaults in help, as text', () => {
    expect(settingDefaults()).toMatchObject({ slot: 'elt_slot', sourceSchemas: 'public', metricsPort: '9464', replicaIdentityFull: 'false' });
    expect(settingDefaults()).not.toHaveProperty('sourceUrl');
  });

  it('lets flags override the environment', () => {
    const config = loadConfig({ ...urls, ELT_SLOT: 'from_env' }, { slot: 'from_flag', 'source-schemas': 'public, sales' });
    expect(config.slot).toBe('from_flag');
    expect(config.sourceSchemas).toEqual(['public', 'sales']);
  });

  it.each([
    [{}, /ELT_SOURCE_URL \(--source-url\) is required\. ELT_DESTINATION_URL \(--destination-url\) is required\./],
    [{ ...urls, ELT_SOURCE_URL: 'mysql://x' }, /ELT_SOURCE_URL \(--source-url\) must be a PostgreSQL URL/],
    [{ ...urls, ELT_SLOT: 'Bad-Slot' }, /ELT_SLOT \(--slot\) must be 1-63 lower-case letters/],
    [{ ...urls, ELT_METRICS_PORT: '70000' }, /ELT_METRICS_PORT \(--metrics-port\) must be a port number/],
    [{ ...urls, ELT_METRICS_PORT: 'abc' }, /ELT_METRICS_PORT \(--metrics-port\) must be a whole number|expected number/],
    [{ ...urls, ELT_DELETE_MODE: 'maybe' }, /ELT_DELETE_MODE \(--delete-mode\) must be hard or soft/],
  ])('names the bad setting in one sentence: %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
