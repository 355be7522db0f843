/**
 * docker-compose.yaml, checked without a Docker engine: it validates against the Compose
 * Specification's JSON schema; every file it mounts or builds from exists; ports,
 * networks, healthchecks and start order are as the stack needs; every variable it
 * interpolates is in .env.example; and the environment it gives each component is one
 * that component's own config schema accepts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { API_SETTINGS, loadApiConfig } from '../../api/src/config.js';
import { loadConfig, SETTINGS } from '../../replicator/src/config.js';
import { PUBLICATION_NAME, REPLICATOR_ROLE } from '../../source_db_init/init.js';
import {
  COMPOSE_PATH,
  ENV_EXAMPLE_PATH,
  REPO_ROOT,
  interpolateAll,
  publishedPorts,
  readComposeRaw,
  readEnvFile,
  serviceEnvironment,
  serviceMounts,
  serviceNetworks,
  type ComposeFile,
  type ComposeService,
  type VariableUse,
} from './stack-files.js';

const raw = readComposeRaw();
const envExample = readEnvFile(ENV_EXAMPLE_PATH);
const uses: VariableUse[] = [];
/** The compose file as `docker compose` would see it with .env copied from .env.example. */
const compose: ComposeFile = interpolateAll(raw, envExample, uses);
const services = Object.entries(compose.services);
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yaml has no service ${name}`);
  return found;
};

/** One-shot jobs: they run to completion (restart "no") and others wait for their success. */
const oneShots = services.filter(([, s]) => s.restart === 'no').map(([name]) => name);

/** Names of variables that hold a secret. */
const SECRET_NAME = /(PASSWORD|SECRET|SECRET_KEY|FERNET_KEY|API_TOKEN)$/;

/** Environment variables each program reads besides its config schema (replicator/src/log.ts). */
const LOG_VARIABLES = [
  ...readFileSync(join(REPO_ROOT, 'replicator/src/log.ts'), 'utf8').matchAll(/process\.env\.(ELT_[A-Z0-9_]+)/g),
].map((m) => m[1]!);

/**
 * A service's environment as elt sees it behind docker/entrypoint.sh: each ELT_X_FILE becomes
 * ELT_X (the secret's value, from .env.example), and the source and destination passwords go into
 * their URLs.
 */
function eltEnvironment(s: ComposeService): Map<string, string> {
  const env = new Map<string, string>();
  for (const [key, value] of serviceEnvironment(s)) {
    const secret = /^\/run\/secrets\/(\w+)$/.exec(value)?.[1];
    if (key.endsWith('_FILE') && secret) {
      env.set(key.slice(0, -'_FILE'.length), envExample.get(compose.secrets![secret]!.environment!)!);
    } else env.set(key, value);
  }
  for (const role of ['SOURCE', 'DESTINATION']) {
    const url = env.get(`ELT_${role}_URL`);
    const password = env.get(`ELT_${role}_PASSWORD`);
    if (!url || !password) continue;
    env.delete(`ELT_${role}_PASSWORD`);
    env.set(`ELT_${role}_URL`, url.replace(/^(postgres(?:ql)?:\/\/[^:@/]+)@/, `$1:${password}@`));
  }
  return env;
}

/** Variables read with process.env.X anywhere in the given TypeScript files. */
function envReadIn(...files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    for (const match of readFileSync(join(REPO_ROOT, file), 'utf8').matchAll(
      /process\.env(?:\.([A-Z_][A-Z0-9_]*)|\[['"]([A-Z_][A-Z0-9_]*)['"]\])/g,
    )) {
      names.add((match[1] ?? match[2])!);
    }
  }
  return names;
}

describe('docker-compose.yaml: the Compose Specification', () => {
  const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'docker/test/compose-spec.json'), 'utf8')) as {
    $schema: string;
  };
  // strict: false because the schema uses the annotation `deprecated`, which draft-07 lacks.
  const ajv = new Ajv({ allErrors: true, strict: false });
  // The schema names draft-07 by its https address; Ajv knows the meta-schema by http.
  const draft7 = createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-07.json') as object;
  ajv.addMetaSchema({ ...draft7, $id: schema.$schema });
  const validate = ajv.compile(schema);

  it('validates as written and after interpolation', () => {
    for (const document of [raw, compose]) {
      const ok = validate(document);
      expect(
        ok ? [] : validate.errors?.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`),
      ).toEqual([]);
    }
  });

  it('the vendored schema rejects what it should (it is really applied)', () => {
    expect(validate({ services: { x: { image: 'a', not_a_key: 1 } } })).toBe(false);
    expect(validate({ services: { x: { image: 'a', depends_on: { y: { condition: 'service_ready' } } } } })).toBe(
      false,
    );
  });

  it('is plain YAML with no duplicate keys', () => {
    expect(() => parse(readFileSync(COMPOSE_PATH, 'utf8'), { merge: true, uniqueKeys: true })).not.toThrow();
  });
});

describe('docker-compose.yaml: files, ports, networks, start order', () => {
  it('every build context, Dockerfile and bind-mounted path exists in the repository', () => {
    const missing: string[] = [];
    for (const [name, s] of services) {
      if (s.build) {
        const build = typeof s.build === 'string' ? { context: s.build } : s.build;
        const context = join(REPO_ROOT, build.context ?? '.');
        if (!existsSync(context) || !statSync(context).isDirectory())
          missing.push(`${name}: build context ${build.context}`);
        const dockerfile = join(context, build.dockerfile ?? 'Dockerfile');
        if (!existsSync(dockerfile)) missing.push(`${name}: dockerfile ${build.dockerfile}`);
      }
      for (const bind of serviceMounts(s).binds) {
        expect(isAbsolute(bind.source), `${name} mounts ${bind.source}: use a path relative to the repository`).toBe(
          false,
        );
        if (!existsSync(join(REPO_ROOT, bind.source))) missing.push(`${name}: bind mount ${bind.source}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('bind mounts are read-only, and every named volume is declared', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of services) {
      for (const volume of s.volumes ?? []) {
        if (typeof volume === 'string' && /^[./]/.test(volume)) expect(volume, `${name}: ${volume}`).toMatch(/:ro$/);
      }
      for (const volume of serviceMounts(s).named) expect(declared, `${name} uses volume ${volume}`).toContain(volume);
    }
  });

  it('every published host port is unique, and the promised ones are there', () => {
    const published = services.flatMap(([name, s]) => publishedPorts(s).map((p) => ({ name, ...p })));
    for (const p of published)
      expect(Number.isInteger(p.published) && Number.isInteger(p.target), `${p.name}: ${JSON.stringify(p)}`).toBe(true);
    const hostPorts = published.map((p) => p.published);
    expect(new Set(hostPorts).size, `host ports: ${hostPorts.join(', ')}`).toBe(hostPorts.length);
    const byService = Object.fromEntries(published.map((p) => [p.name, `${p.published}:${p.target}`]));
    expect(byService).toMatchObject({
      source_postgres: '5433:5432',
      destination_postgres: '5434:5432',
      api: '5001:5001',
      'airflow-apiserver': '8080:8080',
      grafana: '3000:3000',
      prometheus: '9090:9090',
    });
  });

  it('only the replicator and the seeding job reach the source', () => {
    const onSource = services.filter(([, s]) => serviceNetworks(s).includes('source_net')).map(([name]) => name);
    expect(onSource.sort()).toEqual(['replicator', 'source-init', 'source_postgres']);
    expect(serviceNetworks(service('source_postgres'))).toEqual(['source_net']);
    expect(serviceNetworks(service('source-init'))).toEqual(['source_net']);
    expect(serviceNetworks(service('replicator')).sort()).toEqual(['analytics_net', 'source_net']);
    for (const [name, s] of services) {
      if (!onSource.includes(name)) expect(serviceNetworks(s), name).toEqual(['analytics_net']);
    }
    expect(Object.keys(compose.networks ?? {}).sort()).toEqual(['analytics_net', 'source_net']);
  });

  it('no service but the replicator and the seeding job names the source in its environment', () => {
    for (const [name, s] of services) {
      if (name === 'replicator' || name === 'source-init') continue;
      for (const [key, value] of serviceEnvironment(s)) {
        if (!key.endsWith('_FILE')) expect(value, `${name} ${key}`).not.toMatch(/source_postgres/);
      }
    }
  });

  it('every long-running service has a healthcheck; one-shot jobs have none', () => {
    for (const [name, s] of services) {
      if (oneShots.includes(name)) continue;
      expect(s.healthcheck?.test, `${name} needs a healthcheck`).toBeDefined();
      expect(s.healthcheck?.disable ?? false, name).toBe(false);
      // elt's own services restart on failure only: docker/entrypoint.sh ends a configuration error
      // (exit 2) with 0, so it is not restarted in a loop.
      const elt = s.image === 'elt:local';
      expect(s.restart, `${name} restart policy`).toBe(elt ? 'on-failure' : 'unless-stopped');
    }
    expect(oneShots.sort()).toEqual(['airflow-init', 'source-init']);
  });

  it('depends_on waits for health or for a job to succeed, never just for a start', () => {
    for (const [name, s] of services) {
      const dependsOn = s.depends_on ?? {};
      expect(Array.isArray(dependsOn), `${name}: depends_on needs conditions`).toBe(false);
      for (const [dependency, { condition }] of Object.entries(dependsOn as Record<string, { condition: string }>)) {
        const target = service(dependency);
        if (oneShots.includes(dependency))
          expect(condition, `${name} -> ${dependency}`).toBe('service_completed_successfully');
        // Prometheus must watch a replicator that is not healthy (not streaming): it waits for a start.
        else if (name === 'prometheus') expect(condition, `${name} -> ${dependency}`).toBe('service_started');
        else {
          expect(condition, `${name} -> ${dependency}`).toBe('service_healthy');
          expect(target.healthcheck, `${dependency} has a healthcheck`).toBeDefined();
        }
      }
    }
  });

  it('the start order has no cycle, and the stack starts in the order the data flows', () => {
    const order: string[] = [];
    const visiting = new Set<string>();
    const visit = (name: string, path: string[]): void => {
      if (order.includes(name)) return;
      if (visiting.has(name)) throw new Error(`depends_on cycle: ${[...path, name].join(' -> ')}`);
      visiting.add(name);
      for (const dependency of Object.keys(service(name).depends_on ?? {})) visit(dependency, [...path, name]);
      visiting.delete(name);
      order.push(name);
    };
    for (const [name] of services) visit(name, []);
    const before = (a: string, b: string) =>
      expect(order.indexOf(a), `${a} before ${b}`).toBeLessThan(order.indexOf(b));
    before('source_postgres', 'source-init');
    before('source-init', 'replicator');
    before('destination_postgres', 'replicator');
    before('airflow-init', 'airflow-scheduler');
    before('api', 'airflow-scheduler');
  });

  it('monitoring/prometheus.yml scrapes the replicator and the API where compose serves them', () => {
    const prometheus = parse(readFileSync(join(REPO_ROOT, 'monitoring/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
    };
    const targets = prometheus.scrape_configs.flatMap((job) => (job.static_configs ?? []).flatMap((c) => c.targets));
    const replicatorPort = eltEnvironment(service('replicator')).get('ELT_METRICS_PORT');
    const apiPort = eltEnvironment(service('api')).get('ELT_API_PORT');
    expect(targets).toContain(`replicator:${replicatorPort}`);
    expect(targets).toContain(`api:${apiPort}`);
    const prometheusNetworks = serviceNetworks(service('prometheus'));
    for (const target of targets) {
      const host = target.split(':')[0]!;
      if (host === 'localhost') continue;
      expect(
        serviceNetworks(service(host)).some((n) => prometheusNetworks.includes(n)),
        `prometheus reaches ${host}`,
      ).toBe(true);
    }
  });
});

describe('docker-compose.yaml: variables and secrets', () => {
  it('every ${VAR} it uses is defined in .env.example, and .env.example has nothing it does not use', () => {
    const used = new Set(uses.map((u) => u.name));
    expect([...used].filter((name) => !envExample.has(name))).toEqual([]);
    const secrets = new Set(Object.values(compose.secrets ?? {}).map((secret) => secret.environment));
    // COMPOSE_* are Compose's own settings (COMPOSE_PROFILES).
    expect(
      [...envExample.keys()].filter((name) => !used.has(name) && !secrets.has(name) && !name.startsWith('COMPOSE_')),
    ).toEqual([]);
  });

  it('every secret of .env.example is a Compose secret, given to services as a file only', () => {
    const declared = compose.secrets ?? {};
    const fromEnv = new Set(Object.values(declared).map((secret) => secret.environment));
    for (const name of envExample.keys()) {
      if (SECRET_NAME.test(name)) expect(fromEnv.has(name), `${name} is the source of a secret`).toBe(true);
    }
    for (const [name, s] of services) {
      const listed = new Set(s.secrets ?? []);
      for (const [key, value] of serviceEnvironment(s)) {
        expect(SECRET_NAME.test(key), `${name} ${key}: a secret in the environment`).toBe(false);
        const file = /^\/run\/secrets\/(\w+)$/.exec(value)?.[1];
        if (key.endsWith('_FILE') || file) {
          expect(file && listed.has(file), `${name} ${key}: ${value} is a secret the service lists`).toBe(true);
          expect(declared[file!], `${file} is declared`).toBeDefined();
        }
      }
      for (const secret of listed) expect(declared[secret], `${name}: ${secret} is declared`).toBeDefined();
    }
  });

  it('no password, token or key is written into the compose file itself', () => {
    for (const [name, s] of Object.entries(raw.services)) {
      for (const [key, value] of serviceEnvironment(s)) {
        for (const url of value.match(/[a-z+]+:\/\/[^\s"']+/g) ?? []) {
          const credentials = /^[a-z+]+:\/\/([^/@]*)@/.exec(url)?.[1];
          expect(credentials ?? '', `${name} ${key}: password in ${url}`).not.toContain(':');
        }
      }
    }
  });

  it('.env.example holds placeholders, not real secrets', () => {
    for (const [name, value] of envExample) {
      if (SECRET_NAME.test(name) && name !== 'AIRFLOW_ADMIN_PASSWORD' && name !== 'AIRFLOW_FERNET_KEY')
        expect(value, name).toMatch(/^change-me/);
    }
    expect(envExample.get('AIRFLOW_FERNET_KEY')).toMatch(/^A+=$/);
    expect(Buffer.from(envExample.get('AIRFLOW_FERNET_KEY')!, 'base64url')).toHaveLength(32);
  });
});

describe('docker-compose.yaml: each component gets settings its own schema accepts', () => {
  it('the replicator: every ELT_* variable is a setting of replicator/src/config.ts (or the log level)', () => {
    const known = new Set([...Object.values(SETTINGS).map((s) => s.env), ...LOG_VARIABLES]);
    const env = eltEnvironment(service('replicator'));
    expect([...env.keys()].filter((key) => !known.has(key))).toEqual([]);
    const config = loadConfig(Object.fromEntries(env));
    expect(config).toMatchObject({
      slot: 'elt_slot',
      publication: PUBLICATION_NAME,
      targetSchema: 'staging',
      metricsPort: 9464,
    });
    expect(new URL(config.sourceUrl).username).toBe(REPLICATOR_ROLE);
    expect(new URL(config.sourceUrl).hostname).toBe('source_postgres');
    expect(new URL(config.destinationUrl).hostname).toBe('destination_postgres');
  });

  it('the API: every ELT_* variable is a setting of api/src/config.ts (or the log level)', () => {
    const known = new Set([...Object.values(API_SETTINGS), ...LOG_VARIABLES]);
    const env = eltEnvironment(service('api'));
    expect([...env.keys()].filter((key) => !known.has(key))).toEqual([]);
    const config = loadApiConfig(Object.fromEntries(env));
    // Inside a container the API must listen beyond loopback, or nothing reaches it.
    expect(config).toMatchObject({ host: '0.0.0.0', port: 5001 });
    expect(config.token).toBeDefined();
    expect(config.slot).toBe(loadConfig(Object.fromEntries(eltEnvironment(service('replicator')))).slot);
    expect(config.destinationUrl).toBe(eltEnvironment(service('replicator')).get('ELT_DESTINATION_URL'));
  });

  it('the seeding job: source_db_init reads every variable it is given', () => {
    const known = envReadIn('source_db_init/init.ts', 'source_db_init/cli.ts');
    const env = eltEnvironment(service('source-init'));
    expect([...env.keys()].filter((key) => !known.has(key))).toEqual([]);
    // It connects as the superuser and sets the same password the replicator logs in with.
    expect(new URL(env.get('ELT_SOURCE_URL')!).username).toBe('postgres');
    const replicatorUrl = new URL(eltEnvironment(service('replicator')).get('ELT_SOURCE_URL')!);
    expect(decodeURIComponent(replicatorUrl.password)).toBe(env.get('ELT_REPLICATOR_PASSWORD'));
  });

  it('the destination role the URLs use is the one docker/destination-init.sh creates', () => {
    const script = readFileSync(join(REPO_ROOT, 'docker/destination-init.sh'), 'utf8');
    const role = /CREATE ROLE (\w+) LOGIN/.exec(script)?.[1];
    const destination = service('destination_postgres');
    const mounted = serviceMounts(destination).binds.find((b) => b.source === './docker/destination-init.sh');
    expect(mounted?.target).toMatch(/^\/docker-entrypoint-initdb\.d\/[^/]+\.sh$/);
    for (const name of ['replicator', 'api']) {
      const url = new URL(eltEnvironment(service(name)).get('ELT_DESTINATION_URL')!);
      expect(url.username, name).toBe(role);
      expect(decodeURIComponent(url.password), name).toBe(eltEnvironment(destination).get('ELT_DESTINATION_PASSWORD'));
      expect(url.pathname, name).toBe(`/${serviceEnvironment(destination).get('POSTGRES_DB')}`);
    }
  });

  it('Airflow: the ELT_DBT_* variables are the ones custom_postgres/profiles.yml reads, pointing at the destination', () => {
    const profiles = readFileSync(join(REPO_ROOT, 'custom_postgres/profiles.yml'), 'utf8');
    const known = new Set([...profiles.matchAll(/env_var\('([A-Z0-9_]+)'/g)].map((m) => m[1]!));
    for (const name of [
      'airflow-scheduler',
      'airflow-triggerer',
      'airflow-dag-processor',
      'airflow-apiserver',
      'airflow-init',
    ]) {
      const env = eltEnvironment(service(name));
      const dbt = [...env.keys()].filter((key) => key.startsWith('ELT_DBT_'));
      expect(
        dbt.filter((key) => !known.has(key)),
        name,
      ).toEqual([]);
      expect(env.get('ELT_DBT_HOST'), name).toBe('destination_postgres');
      expect(env.get('ELT_DBT_USER'), name).toBe(
        new URL(eltEnvironment(service('api')).get('ELT_DESTINATION_URL')!).username,
      );
      expect(env.get('ELT_API_URL'), name).toBe(`http://api:${eltEnvironment(service('api')).get('ELT_API_PORT')}`);
      for (const conn of [...env.keys()].filter((key) => key.startsWith('AIRFLOW_CONN_'))) {
        expect(() => JSON.parse(env.get(conn)!) as unknown, `${name} ${conn} is JSON`).not.toThrow();
      }
      expect(env.get('AIRFLOW__CORE__EXECUTOR'), name).toBe('LocalExecutor');
      // Airflow keeps a _CMD's output whole: echo's newline would end the database's name.
      expect(env.get('AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD'), name).toMatch(
        /^sh -c 'printf %s ".*@airflow_postgres:5432\/airflow"'$/,
      );
    }
    // The DAGs' own settings pass through from .env (values other than the defaults, so a value
    // written into the compose file fails), under the names the DAG file reads, to the services
    // that parse (dag-processor) and run (scheduler) the DAGs.
    const dagSettings = readFileSync(join(REPO_ROOT, 'airflow/dags/elt_common/settings.py'), 'utf8');
    const custom = new Map([
      ...envExample,
      ['ELT_DAG_SCHEDULE', '*/7 * * * *'],
      ['ELT_MAINTENANCE_SCHEDULE', 'none'],
      ['ELT_MAX_LAG_SECONDS', '42'],
    ]);
    const withCustom: ComposeFile = interpolateAll(raw, custom);
    for (const name of ['airflow-dag-processor', 'airflow-scheduler']) {
      const env = eltEnvironment(withCustom.services[name]!);
      for (const key of ['ELT_DAG_SCHEDULE', 'ELT_MAINTENANCE_SCHEDULE', 'ELT_MAX_LAG_SECONDS']) {
        expect(dagSettings, key).toContain(`"${key}"`);
        expect(env.get(key), `${name} ${key}`).toBe(custom.get(key));
      }
    }
    expect(serviceEnvironment(service('airflow-init')).get('_AIRFLOW_WWW_USER_USERNAME')).toBe('airflow');
    // docker/airflow-entrypoint.sh turns ELT_AIRFLOW_ADMIN_PASSWORD into _AIRFLOW_WWW_USER_PASSWORD.
    expect(eltEnvironment(service('airflow-init')).get('ELT_AIRFLOW_ADMIN_PASSWORD')).toBe(
      envExample.get('AIRFLOW_ADMIN_PASSWORD'),
    );
  });

  it('the source runs with wal_level=logical', () => {
    const command = service('source_postgres').command;
    expect(Array.isArray(command) ? command.join(' ') : command).toMatch(/-c wal_level=logical/);
  });
});
