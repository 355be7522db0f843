/** The replicator's Prometheus endpoint, as tests read it. */

/** The value of the first series on `port`'s /metrics whose line starts with `series` (e.g. `elt_table_selected{table="public.t"}`), null when there is none. */
export async function metricValue(port: number, series: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line ? Number(line.split(' ').at(-1)) : null;
}
