/** ELT_API_* settings: defaults, and one sentence per bad value. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../replicator/src/errors.js';
import { loadApiConfig } from '../src/config.js';

const URL_ = 'postgres://elt:secret@localhost:5434/analytics';

describe('loadApiConfig', () => {
  it('has defaults for everything but the destination', () => {
    expect(loadApiConfig({ ELT_DESTINATION_URL: URL_ })).toEqual({
      port: 5001,
      host: '127.0.0.1',
      destinationUrl: URL_,
      token: undefined,
      slot: 'elt_slot',
      readsNeedToken: false,
      heartbeatMaxAgeS: 30,
    });
  });

  it('reads every variable', () => {
    const config = loadApiConfig({
      ELT_DESTINATION_URL: URL_,
      ELT_API_PORT: '8080',
      ELT_API_HOST: '0.0.0.0',
      ELT_API_TOKEN: 'a'.repeat(32),
      ELT_SLOT: 'my_slot',
      ELT_API_READS_NEED_TOKEN: 'TRUE',
      ELT_API_HEARTBEAT_MAX_AGE_S: '12.5',
    });
    expect(config).toEqual({
      port: 8080,
      host: '0.0.0.0',
      destinationUrl: URL_,
      token: 'a'.repeat(32),
      slot: 'my_slot',
      readsNeedToken: true,
      heartbeatMaxAgeS: 12.5,
    });
    expect(
      loadApiConfig({ ELT_DESTINATION_URL: URL_, ELT_API_READS_NEED_TOKEN: 'no', ELT_API_TOKEN: '' }).readsNeedToken,
    ).toBe(false);
  });

  it.each([
    [{}, 'ELT_DESTINATION_URL is required.'],
    [{ ELT_DESTINATION_URL: 'mysql://x/y' }, 'ELT_DESTINATION_URL must be a PostgreSQL URL'],
    [{ ELT_DESTINATION_URL: URL_, ELT_API_PORT: '70000' }, 'ELT_API_PORT must be a port number.'],
    [{ ELT_DESTINATION_URL: URL_, ELT_API_PORT: 'http' }, 'ELT_API_PORT must be a port number.'],
    [{ ELT_DESTINATION_URL: URL_, ELT_API_TOKEN: 'short' }, 'ELT_API_TOKEN must be at least 16 characters'],
    [
      { ELT_DESTINATION_URL: URL_, ELT_API_TOKEN: 'has a space in the token' },
      'ELT_API_TOKEN must be printable ASCII without spaces.',
    ],
    [{ ELT_DESTINATION_URL: URL_, ELT_SLOT: 'Bad-Slot' }, 'ELT_SLOT must be 1-63 lower-case letters'],
    [
      { ELT_DESTINATION_URL: URL_, ELT_API_READS_NEED_TOKEN: 'maybe' },
      'ELT_API_READS_NEED_TOKEN must be true or false.',
    ],
    [
      { ELT_DESTINATION_URL: URL_, ELT_API_READS_NEED_TOKEN: 'true' },
      'ELT_API_READS_NEED_TOKEN is true, so ELT_API_TOKEN must be set as well.',
    ],
    [
      { ELT_DESTINATION_URL: URL_, ELT_API_HEARTBEAT_MAX_AGE_S: '0' },
      'ELT_API_HEARTBEAT_MAX_AGE_S must be more than 0 seconds.',
    ],
  ])('%j is refused: %s', (env, sentence) => {
    expect(() => loadApiConfig(env)).toThrow(ConfigError);
    expect(() => loadApiConfig(env)).toThrow(sentence);
  });

  it('never puts the token into the message', () => {
    const token = 'secret token with spaces';
    try {
      loadApiConfig({ ELT_DESTINATION_URL: URL_, ELT_API_TOKEN: token });
      expect.fail('should throw');
    } catch (error) {
      expect((error as Error).message).not.toContain(token);
    }
  });
});
