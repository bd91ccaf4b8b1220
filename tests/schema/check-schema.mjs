#!/usr/bin/env node
// Independent check of schema/workflow.schema.json with ajv (not the
// validator cairn itself uses):
//   1. the schema compiles with ajv in strict mode (draft-07);
//   2. every workflows/*.yaml and tests/validate/valid/*.yaml (when that folder
//      exists), parsed as YAML 1.2 (core schema), conforms to it; for
//      workflows/ also the house conventions (modeline, name = file name) and
//      that the workflow's `input` is itself a JSON Schema ajv can compile;
//   3. deliberately wrong documents are rejected, each for the expected
//      reason, so the check cannot pass vacuously.
// Prints one line per check and `N passed, N failed` last; exits 1 on any
// failure, 77 (ctest: skipped) when node_modules is missing.
//
// Usage: (cd tests/schema && npm ci) && node tests/schema/check-schema.mjs

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

let Ajv;
let YAML;
try {
  Ajv = (await import('ajv')).default;
  YAML = await import('yaml');
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    console.log('skipped: ajv/yaml are not installed: run npm ci in tests/schema');
    process.exit(77);
  }
  throw e;
}

let passed = 0;
let failed = 0;
function pass(what) {
  passed += 1;
  console.log(`ok    ${what}`);
}
function fail(what, details = []) {
  failed += 1;
  console.log(`FAIL  ${what}`);
  for (const line of details) console.log(`        ${line}`);
}
function rel(p) {
  return path.relative(root, p);
}
function describeErrors(errors) {
  return (errors || []).slice(0, 12).map(
      (e) => `${e.instancePath || '/'}: ${e.message}` +
          (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''));
}

// YAML 1.2 with the core schema (so `yes`, `on`, `0777` stay strings / decimal
// as YAML 1.2 says); duplicate keys and unknown tags are errors.
function parseYaml(text) {
  const doc = YAML.parseDocument(text, {
    version: '1.2',
    schema: 'core',
    uniqueKeys: true,
    strict: true,
    prettyErrors: true,
  });
  const problems = [...doc.errors, ...doc.warnings].map((e) => e.message.split('\n')[0]);
  if (problems.length > 0) return { problems };
  return { value: doc.toJS({ maxAliasCount: 100 }) };
}

// --- 1. compile the schema -------------------------------------------------

const schemaPath = path.join(root, 'schema', 'workflow.schema.json');
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));

// strict: true rejects unknown keywords, ignored keywords, ambiguous types
// and `required` names that are not in `properties`. `description` and
// `title` are standard annotation keywords, accepted by strict mode as they
// are, so the description-on-everything style needs no option.
// allowUnionTypes: the one relaxation. Strict mode (strictTypes) refuses a
// union `type: [string, number]` unless allowed; the schema uses it on
// purpose for durations (`30s` or a number of seconds) and literal params.
const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
let validate;
try {
  validate = ajv.compile(schema);
  pass(`${rel(schemaPath)} compiles (ajv ${ajvVersion()}, draft-07, strict)`);
} catch (e) {
  fail(`${rel(schemaPath)} compiles`, [e.message]);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}

function ajvVersion() {
  try {
    const pkg = path.join(here, 'node_modules', 'ajv', 'package.json');
    return JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
  } catch {
    return '?';
  }
}

// A workflow's `input` is a JSON Schema of its own. Formats (date-time, uri)
// are annotations here: cairn checks them, ajv-formats is not needed for this.
const inputAjv = new Ajv({ strict: true, allowUnionTypes: true, validateFormats: false });

// --- 2. the sample workflows conform -----------------------------------------

const modeline = '# yaml-language-server: $schema=../schema/workflow.schema.json';

function yamlFiles(dir) {
  if (!fs.existsSync(dir)) return null;
  return fs.readdirSync(dir)
      .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
      .sort()
      .map((f) => path.join(dir, f));
}

function checkWorkflowFile(file, { conventions }) {
  const text = fs.readFileSync(file, 'utf8');
  const parsed = parseYaml(text);
  if (parsed.problems) {
    fail(`${rel(file)}: YAML`, parsed.problems);
    return;
  }
  const doc = parsed.value;
  if (validate(doc)) {
    pass(`${rel(file)} conforms`);
  } else {
    fail(`${rel(file)} conforms`, describeErrors(validate.errors));
  }
  if (!conventions) return;

  const problems = [];
  if (text.split('\n')[0] !== modeline) problems.push(`first line is not: ${modeline}`);
  const base = path.basename(file).replace(/\.ya?ml$/, '');
  if (doc && doc.name !== base) problems.push(`name is ${JSON.stringify(doc && doc.name)}, file is ${base}`);
  if (!doc || typeof doc.description !== 'string') problems.push('no description');
  if (doc && doc.input !== undefined) {
    try {
      inputAjv.compile(doc.input);
    } catch (e) {
      problems.push(`input is not a valid JSON Schema: ${e.message}`);
    }
  }
  if (problems.length === 0) {
    pass(`${rel(file)} conventions (modeline, name, description, input schema)`);
  } else {
    fail(`${rel(file)} conventions`, problems);
  }
}

const workflows = yamlFiles(path.join(root, 'workflows'));
if (!workflows || workflows.length === 0) {
  fail('workflows/*.yaml exist');
} else {
  for (const file of workflows) checkWorkflowFile(file, { conventions: true });
}

const validDir = path.join(root, 'tests', 'validate', 'valid');
const valid = yamlFiles(validDir);
if (valid === null) {
  console.log(`note  ${rel(validDir)} does not exist: skipped`);
} else {
  for (const file of valid) checkWorkflowFile(file, { conventions: false });
}

// --- 3. wrong documents are rejected ------------------------------------------
// Each is a small, otherwise valid workflow with one mistake; it must be
// rejected with an error at `at` (an instance path) whose keyword is one of
// `keywords`, so a schema that rejects it for an unrelated reason fails too.

const header = 'cairn: 1\nname: wrong\n';
const runTask = (launchType) => `${header}steps:
  - name: runTask
    ecs.runTask:
      taskDefinition: worker:3
      launchType: ${launchType}
      network:
        subnets: [subnet-1]
`;

const wrong = [
  {
    what: 'unknown step key (retries instead of retry)',
    yaml: `${header}steps:\n  - name: pause\n    wait: 5s\n    retries: 3\n`,
    at: '/steps/0',
    keywords: ['additionalProperties'],
  },
  {
    what: 'missing steps',
    yaml: `${header}description: no steps\n`,
    at: '',
    keywords: ['required'],
  },
  {
    what: 'launchType FARGATE_SPOT (not in the enum)',
    yaml: runTask('FARGATE_SPOT'),
    at: '/steps/0/ecs.runTask/launchType',
    keywords: ['enum', 'anyOf'],
  },
  {
    what: 'cairn: 2',
    yaml: `cairn: 2\nname: wrong\nsteps:\n  - name: pause\n    wait: 5s\n`,
    at: '/cairn',
    keywords: ['const'],
  },
  {
    what: 'unknown top-level key (param instead of params)',
    yaml: `${header}param: {table: {env: TABLE}}\nsteps:\n  - name: pause\n    wait: 5s\n`,
    at: '',
    keywords: ['additionalProperties'],
  },
  {
    what: 'parallel branches written as a list',
    yaml: `${header}steps:
  - name: both
    parallel:
      branches:
        - name: a
          wait: 1s
`,
    at: '/steps/0/parallel/branches',
    keywords: ['type'],
  },
  {
    what: 'poll without until',
    yaml: `${header}steps:
  - name: waitForStop
    poll:
      check:
        ecs.describeTasks: {tasks: [arn]}
      interval: 5s
`,
    at: '/steps/0/poll',
    keywords: ['required'],
  },
  {
    what: 'param with a misspelt key (spilt)',
    yaml: `${header}params:\n  subnets: {env: SUBNETS, spilt: ","}\nsteps:\n  - name: pause\n    wait: 5s\n`,
    at: '/params/subnets',
    keywords: ['additionalProperties', 'anyOf'],
  },
  {
    what: 'catch handler without next',
    yaml: `${header}steps:
  - name: call
    http.request: {url: "https://example.com"}
    catch:
      - errors: [all]
`,
    at: '/steps/0/catch/0',
    keywords: ['required'],
  },
  {
    what: 'map without steps',
    yaml: `${header}steps:\n  - name: each\n    map:\n      items: [1, 2]\n`,
    at: '/steps/0/map',
    keywords: ['required'],
  },
];

for (const c of wrong) {
  const parsed = parseYaml(c.yaml);
  if (parsed.problems) {
    fail(`rejects ${c.what}: the test document is not valid YAML`, parsed.problems);
    continue;
  }
  if (validate(parsed.value)) {
    fail(`rejects ${c.what}`, ['accepted by the schema']);
    continue;
  }
  const hit = validate.errors.some((e) => e.instancePath === c.at && c.keywords.includes(e.keyword));
  if (hit) {
    pass(`rejects ${c.what}`);
  } else {
    fail(`rejects ${c.what}: not for the expected reason (${c.keywords.join('/')} at ${c.at || '/'})`,
         describeErrors(validate.errors));
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
