// protocol/ room tests (issue 13, transaction admin): DescribeProducers (61), DescribeTransactions
// (65) and ListTransactions (66) against the bytes Apache Kafka 4.1's generated message classes
// write for the same values (kafka-clients 4.1.0, `Message.write` at the version shown): each
// decodes to those values and re-encodes to the same bytes. Also the ListTransactions v2
// TransactionalIdPattern reading (RE2, whole-id match).
import t from 'tap';
import { compileTransactionalIdPattern } from '../../src/api/txn-admin.js';
import { apis, ApiKey } from '../../src/protocol/index.js';
import { DescribeProducersRequest, DescribeProducersResponse } from '../../src/protocol/messages/describe-producers.js';
import { DescribeTransactionsRequest, DescribeTransactionsResponse } from '../../src/protocol/messages/describe-transactions.js';
import { ListTransactionsRequest, ListTransactionsResponse } from '../../src/protocol/messages/list-transactions.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import type { AnyMessageSchema } from '../../src/protocol/schema.js';

function encode(schema: AnyMessageSchema, value: unknown, version: number): string {
  const w = new Writer();
  schema.encodeUnchecked(w, value, version);
  return w.toBuffer().toString('hex');
}

function decode(schema: AnyMessageSchema, hex: string, version: number): { value: unknown; remaining: number } {
  const r = new Reader(Buffer.from(hex, 'hex'));
  const value = schema.decode(r, version);
  return { value, remaining: r.remaining };
}

interface Case {
  schema: AnyMessageSchema;
  version: number;
  /** What Kafka 4.1 writes. */
  hex: string;
  value: unknown;
}

const cases: Case[] = [
  {
    schema: ListTransactionsRequest,
    version: 2,
    hex: '03084f6e676f696e6706426f6775730300000000000000070000010000000000000000000000ea600674782d2e2a00',
    value: { stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [7, 2 ** 40], durationFilter: 60000, transactionalIdPattern: 'tx-.*' },
  },
  {
    schema: ListTransactionsRequest,
    version: 2,
    hex: '0101ffffffffffffffff0000',
    value: { stateFilters: [], producerIdFilters: [], durationFilter: -1, transactionalIdPattern: null },
  },
  {
    schema: ListTransactionsRequest,
    version: 1,
    hex: '03084f6e676f696e6706426f6775730300000000000000070000010000000000000000000000ea6000',
    value: { stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [7, 2 ** 40], durationFilter: 60000, transactionalIdPattern: null },
  },
  {
    schema: ListTransactionsRequest,
    version: 0,
    hex: '03084f6e676f696e6706426f677573030000000000000007000001000000000000',
    value: { stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [7, 2 ** 40], durationFilter: -1, transactionalIdPattern: null },
  },
  {
    schema: ListTransactionsResponse,
    version: 2,
    hex: '0000000000000206426f677573020574782d310000000000000005084f6e676f696e670000',
    value: {
      throttleTimeMs: 0,
      errorCode: 0,
      unknownStateFilters: ['Bogus'],
      transactionStates: [{ transactionalId: 'tx-1', producerId: 5, transactionState: 'Ongoing' }],
    },
  },
  {
    schema: DescribeTransactionsRequest,
    version: 0,
    hex: '030574782d31056e6f706500',
    value: { transactionalIds: ['tx-1', 'nope'] },
  },
  {
    schema: DescribeTransactionsResponse,
    version: 0,
    hex:
      '000000000300000574782d31084f6e676f696e67000927c00000018bcfe5680000000000000000050003020374740300000001000000020000' +
      '0069056e6f70650100000000000000000000000000000000000000000000010000',
    value: {
      throttleTimeMs: 0,
      transactionStates: [
        {
          errorCode: 0,
          transactionalId: 'tx-1',
          transactionState: 'Ongoing',
          transactionTimeoutMs: 600000,
          transactionStartTimeMs: 1700000000000,
          producerId: 5,
          producerEpoch: 3,
          topics: [{ topic: 'tt', partitions: [1, 2] }],
        },
        // An error entry keeps the protocol's defaults, as Kafka's coordinator leaves them.
        {
          errorCode: 105,
          transactionalId: 'nope',
          transactionState: '',
          transactionTimeoutMs: 0,
          transactionStartTimeMs: 0,
          producerId: 0,
          producerEpoch: 0,
          topics: [],
        },
      ],
    },
  },
  {
    schema: DescribeProducersRequest,
    version: 0,
    hex: '020374740300000000000000010000',
    value: { topics: [{ name: 'tt', partitionIndexes: [0, 1] }] },
  },
  {
    schema: DescribeProducersResponse,
    version: 0,
    hex:
      '0000000002037474030000000000000002000000000000000500000003000000020000018bcfe56800000000000000000000000003000000000009' +
      '000330546869732073657276657220646f6573206e6f7420686f7374207468697320746f7069632d706172746974696f6e2e01000000',
    value: {
      throttleTimeMs: 0,
      topics: [
        {
          name: 'tt',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              errorMessage: null,
              activeProducers: [
                { producerId: 5, producerEpoch: 3, lastSequence: 2, lastTimestamp: 1700000000000, coordinatorEpoch: 0, currentTxnStartOffset: 3 },
              ],
            },
            { partitionIndex: 9, errorCode: 3, errorMessage: 'This server does not host this topic-partition.', activeProducers: [] },
          ],
        },
      ],
    },
  },
];

t.test("the admin transaction messages decode and re-encode Kafka 4.1's bytes exactly", async (t) => {
  for (const c of cases) {
    const what = `${c.schema.name} v${c.version}`;
    const { value, remaining } = decode(c.schema, c.hex, c.version);
    t.equal(remaining, 0, `${what}: every byte consumed`);
    t.same(value, c.value, `${what}: decodes to Kafka's values`);
    t.equal(encode(c.schema, c.value, c.version), c.hex, `${what}: encodes to Kafka's bytes`);
  }
});

t.test('the table serves the versions Kafka 4.1 does (flexible from v0)', async (t) => {
  const served = (name: 'DescribeProducers' | 'DescribeTransactions' | 'ListTransactions') => {
    const a = apis[name];
    return [a.request.apiKey, a.minVersion, a.maxVersion, a.request.isFlexible(0), a.response.isFlexible(0)];
  };
  t.same(served('DescribeProducers'), [ApiKey.DescribeProducers, 0, 0, true, true]);
  t.same(served('DescribeTransactions'), [ApiKey.DescribeTransactions, 0, 0, true, true]);
  t.same(served('ListTransactions'), [ApiKey.ListTransactions, 0, 2, true, true]);
  t.equal(ApiKey.DescribeProducers, 61);
  t.equal(ApiKey.DescribeTransactions, 65);
  t.equal(ApiKey.ListTransactions, 66);
});

t.test('ListTransactions v0 leaves out the v1 duration and v2 pattern even when given', async (t) => {
  const value = { stateFilters: [], producerIdFilters: [], durationFilter: 5, transactionalIdPattern: 'x' };
  t.equal(encode(ListTransactionsRequest, value, 0), '010100');
  t.equal(encode(ListTransactionsRequest, value, 1), '0101000000000000000500');
});

t.test('TransactionalIdPattern: an RE2 expression matched against the whole id', async (t) => {
  const matches = (pattern: string, id: string): boolean | null => compileTransactionalIdPattern(pattern)?.test(id) ?? null;
  t.equal(matches('tx-.*', 'tx-1'), true);
  t.equal(matches('tx-.*', 'my-tx-1'), false, 'matches() is anchored at the start');
  t.equal(matches('tx', 'tx-1'), false, 'and at the end');
  t.equal(matches('a|ab', 'ab'), true, 'alternation still finds the whole-id match');
  t.equal(matches('orders-[0-9]+|payments', 'payments'), true);
  t.equal(matches('orders-[0-9]+|payments', 'payments-2'), false);
  t.equal(matches('(?i)TX-\\d+', 'tx-42'), true, 'leading flags group');
  t.equal(matches('(?P<name>tx)-\\d', 'tx-4'), true, 'RE2 named group');
  t.equal(matches('\\Atx\\z', 'tx'), true, '\\A and \\z anchors');
  t.equal(matches('[]a]+', 'a]a'), true, "']' first in a class is a literal");
  t.equal(matches('tx.*', 'tx\nmore'), false, '. does not match a newline (RE2 default)');
  t.equal(matches('(?s)tx.*', 'tx\nmore'), true);
  t.equal(matches('(?m)^tx$', 'tx\ntx'), false, "multi-line mode does not loosen matches()'s anchoring");
  for (const invalid of ['x(', '[a-', '*', '(?=a)a', 'a(?!b)', '(?<=a)b', '(a)\\1', '(?<n>a)\\k<n>', '(?U)a+']) {
    t.equal(compileTransactionalIdPattern(invalid), null, `${JSON.stringify(invalid)} is not a valid RE2 expression`);
  }
});
