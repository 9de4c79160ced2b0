// protocol/ room test helper: builds a value with a non-default entry for every field a message
// has at a version, so a round trip exercises every field, tagged ones included.
import { inRange, type FieldSpec, type StructSpec } from '../../src/protocol/schema.js';

export function sampleStruct(s: StructSpec, version: number, flexible: boolean, seed = 1): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let k = seed;
  for (const [name, f] of s.fields) {
    if (!inRange(f.versions, version)) continue;
    if (f.tag !== undefined && !flexible) continue;
    out[name] = sampleValue(f, version, flexible, k++);
  }
  return out;
}

function sampleValue(f: FieldSpec, version: number, flexible: boolean, k: number): unknown {
  switch (f.kind) {
    case 'bool':
      return f.default === true ? false : true;
    case 'int8':
      return 5 + (k % 3);
    case 'int16':
      return 300 + k;
    case 'uint16':
      return 60000 + k;
    case 'int32':
      return 70000 + k;
    case 'uint32':
      return 4000000000 + k;
    case 'int64':
      return 2 ** 40 + k;
    case 'float64':
      return 1.25 + k;
    case 'uuid':
      return Buffer.alloc(16, k).toString('base64url');
    case 'string':
      return `s${k}é`;
    case 'bytes':
    case 'records':
      return Buffer.from([k, k + 1, k + 2]);
    case 'array': {
      const item = present(f.item, 'array field without an item spec');
      return [0, 1].map((i) =>
        item.kind === 'struct'
          ? sampleStruct(structOf(item), version, flexible, k * 10 + i)
          : sampleValue(item, version, flexible, k * 10 + i),
      );
    }
    case 'struct':
      return sampleStruct(structOf(f), version, flexible, k * 10);
  }
}

function present<T>(value: T | undefined, problem: string): T {
  if (value === undefined) throw new Error(problem);
  return value;
}

function structOf(f: FieldSpec): StructSpec {
  return present(f.struct, 'struct field without a struct spec');
}

/** `actual` restricted to the keys `expected` has (recursively), Buffers compared by content. */
export function project(actual: unknown, expected: unknown): unknown {
  if (Buffer.isBuffer(expected)) return Buffer.isBuffer(actual) ? actual.toString('hex') : actual;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) ? actual.map((a, i) => project(a, expected[i])) : actual;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null) return actual;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(expected)) out[key] = project((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key]);
    return out;
  }
  return actual;
}

export function normalize(v: unknown): unknown {
  return project(v, v);
}
