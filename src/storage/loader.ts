// storage/ room: picks the storage engine. `auto` prefers the native addon and falls back to the
// pure-TS engine with one logged line saying why; `native` insists on the addon.
import type { StorageEngine } from './engine.js';
import { defaultStorageLogger, type StorageLogger } from './logger.js';

export type EngineChoice = 'native' | 'ts' | 'auto';

/** Loads the native engine; throws an Error whose `cause` is the loader's failure. */
export async function loadNativeEngine(logger: StorageLogger = defaultStorageLogger()): Promise<StorageEngine> {
  try {
    const { loadNativeBinding, createNativeEngine } = await import('./native.js');
    return createNativeEngine(loadNativeBinding(), logger);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new Error(`native storage engine unavailable: ${why}`, { cause });
  }
}

async function loadTsEngine(logger: StorageLogger): Promise<StorageEngine> {
  const { createTsEngine } = await import('./ts/index.js');
  return createTsEngine(logger);
}

/** `logger` receives the engine's warnings; the broker passes its pino logger. */
export async function loadEngine(
  choice: EngineChoice,
  logger: StorageLogger = defaultStorageLogger(),
): Promise<StorageEngine> {
  switch (choice) {
    case 'native':
      return loadNativeEngine(logger);
    case 'ts':
      return loadTsEngine(logger);
    case 'auto':
      try {
        return await loadNativeEngine(logger);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        logger.warn({ reason: why.split('\n')[0] }, 'using the TypeScript storage engine');
        return loadTsEngine(logger);
      }
  }
}
