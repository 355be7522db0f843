/**
 * One tick of a resync copy's progress timer: record the rows copied so far, then ask whether the job was
 * cancelled. A failure of either is logged and skips neither: a progress report that fails (a lock, a
 * statement timeout, a broken control connection) must not keep the copy from seeing its cancellation.
 */
import type { Logger } from '../log.js';

export interface CopyProgress {
  /** Records the rows copied so far. */
  report: (rowsCopied: number) => Promise<void>;
  /** True once the job was cancelled. */
  cancelled: () => Promise<boolean>;
}

/** Whether the copy must stop: true once the job was cancelled; false if that could not be read this time. */
export async function progressTick(lc: Logger, rowsCopied: number, progress: CopyProgress): Promise<boolean> {
  try {
    await progress.report(rowsCopied);
  } catch (error) {
    lc.warn({ err: error, rowsCopied }, 'resync: could not record the copy progress; the copy goes on');
  }
  try {
    return await progress.cancelled();
  } catch (error) {
    lc.warn({ err: error }, 'resync: could not read whether the job was cancelled; asking again at the next tick');
    return false;
  }
}
