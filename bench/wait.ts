/** Polling with a deadline. Unlike the harness's waitFor, an error thrown by `check` ends the wait at once. */

export async function poll<T>(
  what: string,
  check: () => Promise<T | false | null | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
