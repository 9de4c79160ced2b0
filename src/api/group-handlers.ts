// api/ room: consumer-group API handlers (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete, DescribeGroups, ListGroups, DeleteGroups).
import type { HandlerTable } from './types.js';

export const groupHandlers: HandlerTable = new Map();
