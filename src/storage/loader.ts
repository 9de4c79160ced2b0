// storage/ room: picks the storage engine. `auto` prefers the native addon and falls back to the
// pure-TS engine with one logged line saying why; `native` insists on the addon.
import type { StorageEngine } from './engine.js';

export type EngineChoice = 'native' | 'ts' | 'auto';

/** Loads the native engine; throws an Error whose `cause` is the loader's failure. */
export async function loadNativeEngine(): Promise<StorageEngine> {
  try {
    const { loadNativeBinding, createNativeEngine } = await import('./native.js');
    return createNativeEngine(loadNativeBinding());
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new Error(`native storage engine unavailable: ${why}`, { cause });
  }
}

async function loadTsEngine(): Promise<StorageEngine> {
  const { tsEngine } = await import('./ts/index.js');
  return tsEngine;
}

export async function loadEngine(
  choice: EngineChoice,
  warn: (line: string) => void = (line) => console.warn(line),
): Promise<StorageEngine> {
  switch (choice) {
    case 'native':
      return loadNativeEngine();
    case 'ts':
      return loadTsEngine();
    case 'auto':
      try {
        return await loadNativeEngine();
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        warn(`${why.split('\n')[0]}; using the TypeScript storage engine`);
        return loadTsEngine();
      }
  }
}
