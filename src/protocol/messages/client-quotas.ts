// protocol/ room: DescribeClientQuotas (key 48, KIP-546). matchType: 0 = exact name, 1 = the
// default entity, 2 = any named entity. AlterClientQuotas (key 49) is not declared: Spool does not
// enforce client quotas, so it has none to alter.
import { array, bool, float64, int16, int32, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeClientQuotasRequest = message({
  name: 'DescribeClientQuotasRequest',
  apiKey: 48,
  versions: '0-1',
  flexible: '1+',
  fields: {
    components: array({ entityType: string(), matchType: int8(), match: string({ nullable: '0+' }) }),
    strict: bool(),
  },
});
export type DescribeClientQuotasRequest = Infer<typeof DescribeClientQuotasRequest>;

export const DescribeClientQuotasResponse = message({
  name: 'DescribeClientQuotasResponse',
  apiKey: 48,
  versions: '0-1',
  flexible: '1+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    entries: array(
      {
        entity: array({ entityType: string(), entityName: string({ nullable: '0+' }) }),
        values: array({ key: string(), value: float64() }),
      },
      { nullable: '0+' },
    ),
  },
});
export type DescribeClientQuotasResponse = InferInput<typeof DescribeClientQuotasResponse>;
