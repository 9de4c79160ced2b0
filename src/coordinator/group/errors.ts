// coordinator/group room: the group coordinator answers with Kafka's error codes from the leaf
// table in src/errors.ts; GroupErrorCode is kept as another name for it so callers need not change.
import { ErrorCode } from '../../errors.js';

export const GroupErrorCode = ErrorCode;
export type GroupErrorCode = ErrorCode;
