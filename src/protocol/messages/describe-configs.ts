// protocol/ room: DescribeConfigs (key 32). Kafka 4 accepts v1+. resourceType: 2 topic,
// 4 broker, 8 broker logger; configSource: 1 dynamic topic, 2 dynamic broker, 3 dynamic default
// broker, 4 static broker, 5 default, 6 dynamic broker logger. Every config is returned, with
// defaults and sources, not only overrides.
import { array, bool, int16, int32, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeConfigsRequest = message({
  name: 'DescribeConfigsRequest',
  apiKey: 32,
  versions: '1-4',
  flexible: '4+',
  fields: {
    resources: array({
      resourceType: int8(),
      resourceName: string(),
      configurationKeys: array(string(), { nullable: '0+' }),
    }),
    includeSynonyms: bool({ v: '1+', default: false }),
    includeDocumentation: bool({ v: '3+', default: false }),
  },
});
export type DescribeConfigsRequest = Infer<typeof DescribeConfigsRequest>;

export const DescribeConfigsResponse = message({
  name: 'DescribeConfigsResponse',
  apiKey: 32,
  versions: '1-4',
  flexible: '4+',
  fields: {
    throttleTimeMs: int32(),
    results: array({
      errorCode: int16(),
      errorMessage: string({ nullable: '0+', default: null }),
      resourceType: int8(),
      resourceName: string(),
      configs: array({
        name: string(),
        value: string({ nullable: '0+' }),
        readOnly: bool(),
        isDefault: bool({ v: '0' }),
        configSource: int8({ v: '1+', default: -1 }),
        isSensitive: bool(),
        synonyms: array({ name: string(), value: string({ nullable: '0+' }), source: int8() }, { v: '1+' }),
        configType: int8({ v: '3+', default: 0 }),
        documentation: string({ v: '3+', nullable: '0+', default: null }),
      }),
    }),
  },
});
export type DescribeConfigsResponse = InferInput<typeof DescribeConfigsResponse>;
