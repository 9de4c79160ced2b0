// records/ room: transaction markers as they sit in a log — a control batch (transactional and
// control attribute bits set, never compressed) holding one record whose key is (version int16 0,
// type int16: 0 ABORT, 1 COMMIT) and whose value is (version int16 0, coordinatorEpoch int32).
// Read straight from batch bytes so producer state and the transaction index can follow markers
// on every path (leader append, replication, replay at load) without decoding whole batches.
import { ATTR_CODEC_MASK, HEADER_SIZE, type BatchHeaderView } from './batch-layout.js';

export interface TxnMarker {
  commit: boolean;
  coordinatorEpoch: number;
}

const CONTROL_TYPE_ABORT = 0;
const CONTROL_TYPE_COMMIT = 1;

/** Reads a zig-zag varint at `pos`; returns [value, next position] or null when it runs past `end`. */
function varint(buf: Buffer, pos: number, end: number): [number, number] | null {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5 && pos < end; i++) {
    const b = buf[pos++];
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [(result >>> 1) ^ -(result & 1), pos];
    shift += 7;
  }
  return null;
}

/**
 * The marker held by the control batch `h` of `buf`; null when the batch is not a well-formed
 * transaction marker (not control, compressed, a control type other than ABORT/COMMIT, truncated).
 */
export function txnMarkerOf(buf: Buffer, h: BatchHeaderView): TxnMarker | null {
  if (!h.isControl || (h.attributes & ATTR_CODEC_MASK) !== 0 || h.recordsCount < 1) return null;
  const end = h.position + h.sizeInBytes;
  let pos = h.position + HEADER_SIZE;
  const length = varint(buf, pos, end);
  if (length === null) return null;
  pos = length[1] + 1; // record attributes (int8)
  const timestampDelta = varint(buf, pos, end);
  if (timestampDelta === null) return null;
  const offsetDelta = varint(buf, timestampDelta[1], end);
  if (offsetDelta === null) return null;
  const keyLength = varint(buf, offsetDelta[1], end);
  if (keyLength === null || keyLength[0] < 4) return null;
  pos = keyLength[1];
  if (pos + keyLength[0] > end) return null;
  const type = buf.readInt16BE(pos + 2);
  if (type !== CONTROL_TYPE_ABORT && type !== CONTROL_TYPE_COMMIT) return null;
  pos += keyLength[0];
  const valueLength = varint(buf, pos, end);
  let coordinatorEpoch = -1;
  if (valueLength !== null && valueLength[0] >= 6 && valueLength[1] + 6 <= end) coordinatorEpoch = buf.readInt32BE(valueLength[1] + 2);
  return { commit: type === CONTROL_TYPE_COMMIT, coordinatorEpoch };
}
