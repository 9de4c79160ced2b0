// security/ room: Kafka's JAAS configuration text (sasl.jaas.config), e.g.
//   org.apache.kafka.common.security.plain.PlainLoginModule required
//     username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";
// parsed into login modules with their options. The broker reads PLAIN's users from user_<name>.

export interface JaasModule {
  loginModule: string;
  flag: string;
  options: Map<string, string>;
}

/** Parses one or more `Module flag key=value ...;` entries; throws with a reason on malformed text. */
export function parseJaasConfig(text: string): JaasModule[] {
  const modules: JaasModule[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const word = (): string => {
    skipSpace();
    const start = i;
    while (i < text.length && /[^\s=;"]/.test(text[i])) i++;
    return text.slice(start, i);
  };
  for (;;) {
    skipSpace();
    if (i >= text.length) break;
    const loginModule = word();
    const flag = word();
    if (loginModule === '' || !/^(required|requisite|sufficient|optional)$/i.test(flag)) {
      throw new Error('JAAS config entry must be "<LoginModule> <required|requisite|sufficient|optional> key=value ...;"');
    }
    const options = new Map<string, string>();
    for (;;) {
      skipSpace();
      if (text[i] === ';') {
        i++;
        break;
      }
      if (i >= text.length) throw new Error('JAAS config entry does not end with ";"');
      const key = word();
      skipSpace();
      if (key === '' || text[i] !== '=') throw new Error(`JAAS config option "${key}" has no value`);
      i++;
      skipSpace();
      let value: string;
      if (text[i] === '"') {
        i++;
        let out = '';
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++;
          out += text[i];
          i++;
        }
        if (i >= text.length) throw new Error(`JAAS config option "${key}" has an unterminated quoted value`);
        i++;
        value = out;
      } else {
        value = word();
      }
      options.set(key, value);
    }
    modules.push({ loginModule, flag: flag.toLowerCase(), options });
  }
  return modules;
}

export const PLAIN_LOGIN_MODULE = 'org.apache.kafka.common.security.plain.PlainLoginModule';

/** PLAIN's users: the user_<name>="<password>" options of PlainLoginModule. */
export function plainUsers(jaas: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const m of parseJaasConfig(jaas)) {
    if (m.loginModule !== PLAIN_LOGIN_MODULE) continue;
    for (const [k, v] of m.options) if (k.startsWith('user_') && k.length > 5) users.set(k.slice(5), v);
  }
  return users;
}
