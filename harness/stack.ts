/** The local demo stack behind `make up` / `make down` (filled in below). */
export function localStackEnv(): Record<string, string> {
  return {};
}
export async function up(): Promise<number> {
  return 1;
}
export async function down(_options: { clean: boolean }): Promise<number> {
  return 1;
}
