// protocol/ room: the message DSL and the codec engine built from it.
//
// Each Kafka request/response is declared once, as data, for every version (franz-go style):
//
//   export const ProduceRequest = message({
//     name: 'ProduceRequest', apiKey: 0, versions: '3-12', flexible: '9+',
//     fields: {
//       transactionalId: string({ v: '3+', nullable: '3+', default: null }),
//       acks: int16(),
//       topicData: array({
//         name: string(),
//         partitionData: array({ index: int32(), records: records({ nullable: '0+' }) }),
//       }),
//     },
//   });
//   export type ProduceRequest = Infer<typeof ProduceRequest>;
//
// Field options, all in Kafka's version-range syntax ('3+', '0-12', '5'):
//   v         versions the field exists in (default: every version). Absent → decoded as default.
//   nullable  versions where null is allowed (strings, bytes, records, arrays, structs).
//   tag       makes it a tagged field (only written/read in flexible versions, only when ≠ default).
//   default   value when absent; giving one (or `v`, or `tag`) makes the field optional when
//             encoding (InferInput), because the encoder fills it in.
// Property order is wire order. `array(item)` takes a primitive field (`array(int32())`) or an
// object of fields (an array of structs); `struct(fields)` is a single nested struct.
// Flexible versions switch strings/bytes/arrays to compact forms (unsigned varint length + 1) and
// add a tagged-field section after every struct. Types come from the declaration:
// `Infer<typeof X>` is what decode returns (all fields present), `InferInput<typeof X>` what encode
// accepts. A `records` field decodes to a Buffer view of the frame and encodes from a Buffer, a
// RecordsSlice (zero-copy file data) or null.
import { assert } from '../errors.js';
import { ProtocolError } from './errors.js';
import { Reader, Writer, isRecordsSlice, ZERO_UUID, type RecordsSlice } from './primitives.js';

export type Kind =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'uuid'
  | 'string'
  | 'bytes'
  | 'records'
  | 'array'
  | 'struct';

export interface VersionRange {
  min: number;
  max: number;
}

const NO_VERSIONS: VersionRange = { min: 1, max: 0 };
const ALL_VERSIONS: VersionRange = { min: 0, max: Infinity };

/** Parses Kafka's version syntax: "3+", "0-12", "7", "none". */
export function parseVersions(text: string): VersionRange {
  if (text === 'none') return NO_VERSIONS;
  const plus = /^(\d+)\+$/.exec(text);
  if (plus) return { min: Number(plus[1]), max: Infinity };
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range) return { min: Number(range[1]), max: Number(range[2]) };
  if (/^\d+$/.test(text)) return { min: Number(text), max: Number(text) };
  throw new Error(`bad version range "${text}"`);
}

export function inRange(r: VersionRange, version: number): boolean {
  return version >= r.min && version <= r.max;
}

export interface FieldSpec {
  readonly kind: Kind;
  readonly versions: VersionRange;
  readonly nullable: VersionRange;
  readonly tag: number | undefined;
  /** undefined → the kind's natural default (0, false, '', [], zero uuid, null records, defaults struct). */
  readonly default: unknown;
  readonly item: FieldSpec | undefined;
  readonly struct: StructSpec | undefined;
}

type TaggedEntry = readonly [string, FieldSpec & { readonly tag: number }];

function isTagged(e: readonly [string, FieldSpec]): e is TaggedEntry {
  return e[1].tag !== undefined;
}

interface Plan {
  /** Non-tagged fields present in this version, in wire order. */
  readonly fixed: ReadonlyArray<readonly [string, FieldSpec]>;
  /** Tagged fields present in this version, ascending tag (the order Kafka requires on the wire). */
  readonly tagged: readonly TaggedEntry[];
  readonly byTag: ReadonlyMap<number, TaggedEntry>;
  /** Per declared field: is it in `fixed`? */
  readonly isFixed: readonly boolean[];
}

export class StructSpec {
  private readonly plans = new Map<number, Plan>();
  constructor(readonly fields: ReadonlyArray<readonly [string, FieldSpec]>) {}

  plan(version: number, flexible: boolean): Plan {
    const key = version * 2 + (flexible ? 1 : 0);
    let p = this.plans.get(key);
    if (p === undefined) {
      const present = this.fields.filter(([, f]) => inRange(f.versions, version));
      const tagged = flexible ? present.filter(isTagged).sort((a, b) => a[1].tag - b[1].tag) : [];
      const fixed = present.filter(([, f]) => f.tag === undefined);
      p = {
        fixed,
        isFixed: this.fields.map((e) => fixed.includes(e)),
        tagged,
        byTag: new Map(tagged.map((e) => [e[1].tag, e])),
      };
      this.plans.set(key, p);
    }
    return p;
  }
}

/** A declared field. The type parameters only exist for inference. */
export class Field<Out, In, Opt extends boolean> {
  declare readonly __out: Out;
  declare readonly __in: In;
  declare readonly __opt: Opt;
  constructor(readonly spec: FieldSpec) {}
}
export type AnyField = Field<unknown, unknown, boolean>;
export type Fields = Readonly<Record<string, AnyField>>;

/** The options type of a field declared without options: none of them set. */
type NoOptions = { [K in keyof FieldOptions<never>]?: never };

export interface FieldOptions<T> {
  v?: string;
  nullable?: string;
  tag?: number;
  default?: T | null;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Nullable<O, T> = O extends { nullable: string } ? T | null : T;
type IsOpt<O> = O extends { v: string } ? true : O extends { tag: number } ? true : O extends { default: unknown } ? true : false;

export type StructOut<F extends Fields> = Simplify<{ -readonly [K in keyof F]: F[K]['__out'] }>;
export type StructIn<F extends Fields> = Simplify<
  { -readonly [K in keyof F as F[K]['__opt'] extends true ? never : K]: F[K]['__in'] } & {
    -readonly [K in keyof F as F[K]['__opt'] extends true ? K : never]?: F[K]['__in'];
  }
>;
type ItemOut<I> = I extends Field<infer O, unknown, boolean> ? O : I extends Fields ? StructOut<I> : never;
type ItemIn<I> = I extends Field<unknown, infer N, boolean> ? N : I extends Fields ? StructIn<I> : never;

function makeSpec(kind: Kind, opts: FieldOptions<unknown> | undefined, extra?: Partial<FieldSpec>): FieldSpec {
  return {
    kind,
    versions: opts?.v === undefined ? ALL_VERSIONS : parseVersions(opts.v),
    nullable: opts?.nullable === undefined ? NO_VERSIONS : parseVersions(opts.nullable),
    tag: opts?.tag,
    default: opts?.default,
    item: extra?.item,
    struct: extra?.struct,
  };
}

function primitive<T>(kind: Kind) {
  return <const O extends FieldOptions<T> = NoOptions>(opts?: O): Field<Nullable<O, T>, Nullable<O, T>, IsOpt<O>> =>
    new Field(makeSpec(kind, opts));
}

export const bool = primitive<boolean>('bool');
export const int8 = primitive<number>('int8');
export const int16 = primitive<number>('int16');
export const uint16 = primitive<number>('uint16');
export const int32 = primitive<number>('int32');
export const uint32 = primitive<number>('uint32');
export const int64 = primitive<number>('int64');
export const float64 = primitive<number>('float64');
/** 22-character base64url, Kafka's display form. */
export const uuid = primitive<string>('uuid');
export const string = primitive<string>('string');
export const bytes = primitive<Buffer>('bytes');

export function records<const O extends FieldOptions<never> = NoOptions>(
  opts?: O,
): Field<Nullable<O, Buffer>, Nullable<O, Buffer | RecordsSlice>, IsOpt<O>> {
  return new Field(makeSpec('records', opts));
}

function toStruct(fields: Fields): StructSpec {
  return new StructSpec(Object.entries(fields).map(([name, f]) => [name, f.spec] as const));
}

export function struct<const F extends Fields, const O extends FieldOptions<never> = NoOptions>(
  fields: F,
  opts?: O,
): Field<Nullable<O, StructOut<F>>, Nullable<O, StructIn<F>>, IsOpt<O>> {
  return new Field(makeSpec('struct', opts, { struct: toStruct(fields) }));
}

export function array<const I extends AnyField | Fields, const O extends FieldOptions<never[]> = NoOptions>(
  item: I,
  opts?: O,
): Field<Nullable<O, Array<ItemOut<I>>>, Nullable<O, Array<ItemIn<I>>>, IsOpt<O>> {
  const itemSpec =
    item instanceof Field ? item.spec : makeSpec('struct', undefined, { struct: toStruct(item) });
  return new Field(makeSpec('array', opts, { item: itemSpec }));
}

// ---------------------------------------------------------------------------------------------
// Codec engine

/** The element spec of an array field; `array()` always sets it. */
function itemOf(f: FieldSpec): FieldSpec {
  assert(f.item !== undefined, 'array field without an item spec', { kind: f.kind });
  return f.item;
}

/** The nested spec of a struct field; `struct()` and `array()` always set it. */
function structOf(f: FieldSpec): StructSpec {
  assert(f.struct !== undefined, 'struct field without a struct spec', { kind: f.kind });
  return f.struct;
}

function defaultValue(f: FieldSpec): unknown {
  if (f.default !== undefined) return Array.isArray(f.default) ? [...(f.default as unknown[])] : f.default;
  switch (f.kind) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return null;
    case 'array':
      return [];
    case 'struct':
      return defaultStruct(structOf(f));
    default:
      return 0;
  }
}

function defaultStruct(s: StructSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of s.fields) out[name] = defaultValue(f);
  return out;
}

function isDefault(f: FieldSpec, v: unknown): boolean {
  if (v === undefined) return true;
  if (f.default !== undefined && !Array.isArray(f.default)) return v === f.default;
  switch (f.kind) {
    case 'array':
      return Array.isArray(v) && v.length === 0;
    case 'struct': {
      if (v === null) return false;
      const obj = v as Record<string, unknown>;
      return structOf(f).fields.every(([name, sub]) => isDefault(sub, obj[name]));
    }
    case 'bytes':
      return Buffer.isBuffer(v) && v.length === 0;
    default:
      return v === defaultValue(f);
  }
}

function notNullable(name: string, version: number): ProtocolError {
  return new ProtocolError(`null for non-nullable field ${name} at version ${version}`);
}

function decodeValue(r: Reader, f: FieldSpec, name: string, version: number, flex: boolean): unknown {
  switch (f.kind) {
    case 'bool':
      return r.bool();
    case 'int8':
      return r.int8();
    case 'int16':
      return r.int16();
    case 'uint16':
      return r.uint16();
    case 'int32':
      return r.int32();
    case 'uint32':
      return r.uint32();
    case 'int64':
      return r.int64();
    case 'float64':
      return r.float64();
    case 'uuid':
      return r.uuid();
    case 'string': {
      const s = r.string(flex);
      if (s === null && !inRange(f.nullable, version)) throw notNullable(name, version);
      return s;
    }
    case 'bytes':
    case 'records': {
      const b = r.bytes(flex);
      if (b === null && !inRange(f.nullable, version)) throw notNullable(name, version);
      return b;
    }
    case 'array': {
      const item = itemOf(f);
      const n = r.arrayLength(flex, fixedSize(item.kind));
      if (n < 0) {
        if (!inRange(f.nullable, version)) throw notNullable(name, version);
        return null;
      }
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = decodeValue(r, item, name, version, flex);
      return out;
    }
    case 'struct': {
      if (inRange(f.nullable, version) && r.int8() < 0) return null;
      return decodeStruct(r, structOf(f), version, flex);
    }
  }
}

/** Smallest encoding of one array element, to bound hostile array counts. */
function fixedSize(kind: Kind): number {
  switch (kind) {
    case 'int16':
    case 'uint16':
      return 2;
    case 'int32':
    case 'uint32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
    case 'uuid':
      return 16;
    default:
      return 1;
  }
}

export function decodeStruct(r: Reader, s: StructSpec, version: number, flex: boolean): Record<string, unknown> {
  const p = s.plan(version, flex);
  const out: Record<string, unknown> = {};
  // Every declared field gets a value (absent ones their default), in declaration order, which is
  // also wire order; tagged values found below replace their defaults.
  const fields = s.fields;
  for (let i = 0; i < fields.length; i++) {
    const [name, f] = fields[i];
    out[name] = p.isFixed[i] ? decodeValue(r, f, name, version, flex) : defaultValue(f);
  }
  if (flex) {
    const count = r.uvarint();
    if (count > r.remaining) throw new ProtocolError(`${count} tagged fields exceed the ${r.remaining} bytes left`);
    for (let i = 0; i < count; i++) {
      const tag = r.uvarint();
      const size = r.uvarint();
      const start = r.pos;
      r.skip(size);
      const entry = p.byTag.get(tag);
      // Unknown tags are skipped: that is the point of tagged fields.
      if (entry !== undefined) {
        const sub = new Reader(r.buf, start, start + size);
        out[entry[0]] = decodeValue(sub, entry[1], entry[0], version, flex);
      }
    }
  }
  return out;
}

function encodeValue(w: Writer, f: FieldSpec, name: string, v: unknown, version: number, flex: boolean): void {
  if (v === undefined) v = defaultValue(f);
  if (v === null && f.kind !== 'records' && !inRange(f.nullable, version)) {
    throw new TypeError(`null for non-nullable field ${name} at version ${version}`);
  }
  switch (f.kind) {
    case 'bool':
      w.bool(v as boolean);
      return;
    case 'int8':
      w.int8(v as number);
      return;
    case 'int16':
      w.int16(v as number);
      return;
    case 'uint16':
      w.uint16(v as number);
      return;
    case 'int32':
      w.int32(v as number);
      return;
    case 'uint32':
      w.uint32(v as number);
      return;
    case 'int64':
      w.int64(v as number);
      return;
    case 'float64':
      w.float64(v as number);
      return;
    case 'uuid':
      w.uuid(v as string);
      return;
    case 'string':
      w.string(v as string | null, flex);
      return;
    case 'bytes':
      w.bytes(v as Buffer | null, flex);
      return;
    case 'records':
      if (isRecordsSlice(v)) w.slice(v, flex);
      else w.bytesZeroCopy(v as Buffer | null, flex);
      return;
    case 'array': {
      if (v === null) {
        w.length(-1, flex, true);
        return;
      }
      const arr = v as unknown[];
      w.length(arr.length, flex, true);
      const itemSpec = itemOf(f);
      for (const item of arr) encodeValue(w, itemSpec, name, item, version, flex);
      return;
    }
    case 'struct':
      if (inRange(f.nullable, version)) {
        w.int8(v === null ? -1 : 1);
        if (v === null) return;
      }
      encodeStruct(w, structOf(f), v as Record<string, unknown>, version, flex);
      return;
  }
}

export function encodeStruct(
  w: Writer,
  s: StructSpec,
  value: Readonly<Record<string, unknown>>,
  version: number,
  flex: boolean,
): void {
  const p = s.plan(version, flex);
  for (const [name, f] of p.fixed) encodeValue(w, f, name, value[name], version, flex);
  if (!flex) return;
  if (p.tagged.length === 0) {
    w.uvarint(0);
    return;
  }
  const present = p.tagged.filter(([name, f]) => !isDefault(f, value[name]));
  w.uvarint(present.length);
  for (const [name, f] of present) {
    const sub = new Writer(64);
    encodeValue(sub, f, name, value[name], version, flex);
    const body = sub.toBuffer();
    w.uvarint(f.tag);
    w.uvarint(body.length);
    w.raw(body);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

export interface MessageDef<F extends Fields, K extends number> {
  name: string;
  apiKey: K;
  /** Versions this broker accepts (Kafka's validVersions, less what Kafka 4 removed). */
  versions: string;
  flexible: string;
  fields: F;
}

/** The view of a message the version-agnostic code (dispatch, tables) works with. */
export interface AnyMessageSchema {
  readonly name: string;
  readonly apiKey: number;
  readonly versions: VersionRange;
  readonly flexibleVersions: VersionRange;
  readonly struct: StructSpec;
  isFlexible(version: number): boolean;
  decode(r: Reader, version: number): unknown;
  encodeUnchecked(w: Writer, value: unknown, version: number): void;
}

export class MessageSchema<F extends Fields, K extends number = number> implements AnyMessageSchema {
  declare readonly __fields: F;
  readonly name: string;
  readonly apiKey: K;
  readonly versions: VersionRange;
  readonly flexibleVersions: VersionRange;
  readonly struct: StructSpec;

  constructor(def: MessageDef<F, K>) {
    this.name = def.name;
    this.apiKey = def.apiKey;
    this.versions = parseVersions(def.versions);
    this.flexibleVersions = parseVersions(def.flexible);
    this.struct = toStruct(def.fields);
  }

  isFlexible(version: number): boolean {
    return inRange(this.flexibleVersions, version);
  }

  /** Decodes a body; throws ProtocolError on truncated or malformed input. */
  decode(r: Reader, version: number): StructOut<F> {
    return decodeStruct(r, this.struct, version, this.isFlexible(version)) as StructOut<F>;
  }

  encode(w: Writer, value: StructIn<F>, version: number): void {
    encodeStruct(w, this.struct, value, version, this.isFlexible(version));
  }

  /** For dispatch code holding an untyped body; a wrong shape fails in the writer (TypeError/RangeError). */
  encodeUnchecked(w: Writer, value: unknown, version: number): void {
    if (typeof value !== 'object' || value === null) throw new TypeError(`${this.name} body must be an object`);
    encodeStruct(w, this.struct, value as Record<string, unknown>, version, this.isFlexible(version));
  }

  /** Convenience for tests and internal use: encode into one Buffer (no file slices allowed). */
  encodeToBuffer(value: StructIn<F>, version: number): Buffer {
    const w = new Writer();
    this.encode(w, value, version);
    return w.toBuffer();
  }

  decodeBuffer(buf: Buffer, version: number): StructOut<F> {
    const r = new Reader(buf);
    const out = this.decode(r, version);
    return out;
  }
}

export function message<const F extends Fields, const K extends number>(def: MessageDef<F, K>): MessageSchema<F, K> {
  return new MessageSchema(def);
}

/** What decoding a message yields. */
export type Infer<M> = M extends MessageSchema<infer F> ? StructOut<F> : never;
/** What encoding a message accepts (fields with defaults may be left out). */
export type InferInput<M> = M extends MessageSchema<infer F> ? StructIn<F> : never;
