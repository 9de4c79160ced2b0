// cli/ room: `spool config list` — every setting of the schema with its scope, type, default and
// description (the same data as docs/configuration.md).
import { Command, InvalidArgumentError } from 'commander';
import { renderConfigMarkdown, renderConfigText, settingDocs } from '../config-docs.js';
import { print } from './common.js';

interface ListFlags {
  format: 'text' | 'json' | 'markdown';
  scope?: 'broker' | 'topic';
}

export function configCommand(): Command {
  const config = new Command('config').description('the settings Spool understands (Kafka\'s names)');
  config
    .command('list')
    .description('every broker and topic setting with type, default and description')
    .option('--scope <scope>', 'only broker or only topic settings', (raw: string) => {
      if (raw !== 'broker' && raw !== 'topic') throw new InvalidArgumentError('must be broker or topic');
      return raw;
    })
    .option('--format <format>', 'text, json or markdown', (raw: string) => {
      if (raw !== 'text' && raw !== 'json' && raw !== 'markdown') throw new InvalidArgumentError('must be text, json or markdown');
      return raw;
    }, 'text')
    .action((_o: unknown, cmd: Command) => {
      const f = cmd.opts<ListFlags>();
      const docs = settingDocs().filter((d) => f.scope === undefined || d.scope === f.scope);
      if (f.format === 'json') print(JSON.stringify(docs, null, 2));
      else if (f.format === 'markdown') process.stdout.write(renderConfigMarkdown());
      else process.stdout.write(renderConfigText(docs));
    });
  return config;
}
