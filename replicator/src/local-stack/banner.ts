/**
 * What `elt up` prints once everything is healthy: each address is checked again just before
 * it is printed, and one that does not answer is not printed as an address.
 */
import { httpOk } from './health.js';
import { queryOnce } from './services.js';
import { destinationUrl, REPLICATOR_ROLE, sourceUrl, type StackSettings } from './settings.js';
import { AIRFLOW_USER } from './airflow.js';

export interface BannerFacts {
  settings: StackSettings;
  settingsFile: string;
  logDir: string;
  /** Source database URL as the superuser (the replicator's role is shown beside it). */
  superuserSourceUrl: string;
  /** null: Prometheus is not installed. */
  prometheus: boolean;
  martRows: number;
}

const answers = async (url: string) => (await httpOk(url)) !== null;
const pgAnswers = (url: string) =>
  queryOnce(url, 'SELECT 1').then(
    () => true,
    () => false,
  );

async function line(label: string, url: string, ok: boolean, note: string): Promise<string> {
  return `  ${label.padEnd(12)} ${ok ? `${url}   ${note}` : `NOT ANSWERING at ${url}: see the log`}`;
}

export async function banner(f: BannerFacts): Promise<string> {
  const s = f.settings;
  const api = `http://127.0.0.1:${s.apiPort}`;
  const prometheus = `http://127.0.0.1:${s.prometheusPort}`;
  const airflow = `http://127.0.0.1:${s.airflowPort}`;
  const lines = [
    await line(
      'source',
      f.superuserSourceUrl,
      await pgAnswers(sourceUrl(s)),
      `(replication role ${REPLICATOR_ROLE} / ${s.replicatorPassword})`,
    ),
    await line(
      'destination',
      destinationUrl(s),
      await pgAnswers(destinationUrl(s)),
      `(schemas staging, marts, elt; ${f.martRows} rows in marts.fct_orders)`,
    ),
    await line('api', api, await answers(`${api}/ready`), `(docs at /docs; token for POST/DELETE: ${s.apiToken})`),
    await line(
      'metrics',
      `http://127.0.0.1:${s.metricsPort}/metrics`,
      await answers(`http://127.0.0.1:${s.metricsPort}/metrics`),
      '(the replicator)',
    ),
    f.prometheus
      ? await line(
          'prometheus',
          prometheus,
          await answers(`${prometheus}/-/ready`),
          '(alerts under /alerts, or /classic/alerts on Prometheus 2.x)',
        )
      : '  prometheus   not installed: apt-get install prometheus (make monitoring-deps), then make down && make up',
    s.airflow
      ? await line(
          'airflow',
          airflow,
          await answers(`${airflow}/api/v2/monitor/health`),
          `(user ${AIRFLOW_USER}, password ${s.airflowPassword}; elt_dag runs ${s.dagSchedule})`,
        )
      : '  airflow      left out (ELT_AIRFLOW=0): make dbt-build rebuilds the marts by hand',
  ];
  return `
elt is up: the demo shop replicates continuously into staging, and dbt built the marts.

${lines.join('\n')}
  workload     ${s.demoRate} transactions/s on the source
  settings     ${f.settingsFile}   (every port, URL and credential above)
  logs         ${f.logDir}/

  make status                 slot, lag and per-table counts
  psql ${destinationUrl(s)} -c 'select count(*) from marts.fct_orders'
  make down                   stop everything (data is kept)
  make clean                  stop and delete all local state
`;
}
