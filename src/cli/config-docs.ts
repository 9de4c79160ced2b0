// cli/ room: every setting of src/config/schema.ts as documentation — `spool config list` and
// docs/configuration.md (written by scripts/gen-config-docs.mjs, checked by a test) both come from
// settingDocs(), so the docs cannot drift from the schema.
import { BrokerConfig, brokerConfigDefs, formatConfigValue, topicConfigDefs } from '../config/index.js';

export interface SettingDoc {
  name: string;
  scope: 'broker' | 'topic';
  type: string;
  /** Text form of the default; null when the setting has none. */
  default: string | null;
  description: string;
  /** Topic settings: the broker settings that supply the default, highest priority first. */
  brokerSynonyms?: string[];
  /** Broker settings: the topic settings whose default this is. */
  topicSettings?: string[];
}

/** Every broker setting, then every topic setting, in schema order. */
export function settingDocs(): SettingDoc[] {
  // Defaults only: no properties file, no SPOOL_* variables.
  const defaults = new BrokerConfig({ env: {} });
  const out: SettingDoc[] = brokerConfigDefs.map((d) => ({
    name: d.name,
    scope: 'broker',
    type: d.type,
    default: d.sensitive === true ? null : formatConfigValue(d.default),
    description: d.doc,
    topicSettings: topicConfigDefs.filter((t) => t.synonyms.some((s) => s.name === d.name)).map((t) => t.name),
  }));
  for (const d of topicConfigDefs) {
    out.push({
      name: d.name,
      scope: 'topic',
      type: d.type,
      default: formatConfigValue(defaults.topicDefault(d.name).value),
      description: d.doc,
      brokerSynonyms: d.synonyms.map((s) => s.name),
    });
  }
  return out;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function code(text: string | null): string {
  if (text === null) return '(none)';
  if (text === '') return '(empty)';
  return `\`${text}\``;
}

/** docs/configuration.md. */
export function renderConfigMarkdown(): string {
  const docs = settingDocs();
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `node scripts/gen-config-docs.mjs` (after `npx tsc`). Do not edit by hand. -->',
    '',
    'Spool reads Kafka\'s setting names. A broker takes them from, lowest priority first: the defaults below, a',
    'properties file (`spool start --config server.properties`; see `config/server.properties`), `SPOOL_<KEY>`',
    'environment variables (`log.dirs` → `SPOOL_LOG_DIRS`), then `--engine` / `--override key=value`. Settings Spool',
    'does not know are logged and ignored, as Kafka does, except security settings it does not implement yet',
    '(it refuses to start rather than run unprotected). `spool config list` prints the same table.',
    '',
    'Topic settings are set per topic (`spool topic create --config`, `spool topic alter --config`, Kafka\'s',
    'admin tools); a topic without one uses the broker setting in its "Broker default from" column.',
    '',
    `## Broker settings (${docs.filter((d) => d.scope === 'broker').length})`,
    '',
    '| Name | Type | Default | Scope | Description |',
    '|---|---|---|---|---|',
  ];
  for (const d of docs.filter((x) => x.scope === 'broker')) {
    const topics = d.topicSettings ?? [];
    const scope = topics.length > 0 ? `broker; default of topic ${topics.map((t) => `\`${t}\``).join(', ')}` : 'broker';
    lines.push(`| \`${d.name}\` | ${d.type} | ${cell(code(d.default))} | ${scope} | ${cell(d.description)} |`);
  }
  lines.push('', `## Topic settings (${docs.filter((d) => d.scope === 'topic').length})`, '', '| Name | Type | Default | Scope | Broker default from | Description |', '|---|---|---|---|---|---|');
  for (const d of docs.filter((x) => x.scope === 'topic')) {
    const from = (d.brokerSynonyms ?? []).map((s) => `\`${s}\``).join(', ');
    lines.push(`| \`${d.name}\` | ${d.type} | ${cell(code(d.default))} | topic | ${from} | ${cell(d.description)} |`);
  }
  return lines.join('\n') + '\n';
}

/** `spool config list` text: one block per setting. */
export function renderConfigText(docs: SettingDoc[]): string {
  const out: string[] = [];
  for (const d of docs) {
    const from =
      d.brokerSynonyms !== undefined && d.brokerSynonyms.length > 0
        ? `, broker default from ${d.brokerSynonyms.join(', ')}`
        : d.topicSettings !== undefined && d.topicSettings.length > 0
          ? `, default of topic ${d.topicSettings.join(', ')}`
          : '';
    out.push(`${d.name}  (${d.scope}, ${d.type}, default: ${d.default === null ? '(none)' : d.default === '' ? '(empty)' : d.default}${from})`);
    out.push(`    ${d.description}`);
  }
  return out.join('\n') + '\n';
}
