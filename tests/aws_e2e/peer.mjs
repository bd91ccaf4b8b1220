// Helpers of workflows_e2e_test.sh, with the AWS SDK for JavaScript v3:
//
//   node peer.mjs setup-ecs MOTO            create cluster "cairn" and task
//                                           definition "worker"; print
//                                           `SUBNETS=… SECURITY_GROUPS=…` from
//                                           moto's default VPC
//   node peer.mjs create-table DYNAMODB T   table T, partition key executionId (S)
//   node peer.mjs get-item DYNAMODB T ID    print the item (plain JSON) or null
//   node peer.mjs container MOTO CAIRN [DYNAMODB]
//       play the ECS task of the callback workflows: wait for a task of
//       cluster "cairn" whose RunTask overrides carry the CALLBACK_ID of an
//       open callback (as moto recorded them; DescribeTasks), read its input (MESSAGE, or the item
//       EXECUTION_ID of TABLE_NAME in DynamoDB), send a heartbeat and then
//       the callback success {words, taskArn} to cairn's local API — as a
//       real container would with the Lambda API.
//
// Credentials are dummies; every endpoint is 127.0.0.1.
import { DynamoDBClient, CreateTableCommand, DescribeTableCommand, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { EC2Client, DescribeSubnetsCommand, DescribeSecurityGroupsCommand } from "@aws-sdk/client-ec2";
import {
  ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, ListTasksCommand, DescribeTasksCommand,
} from "@aws-sdk/client-ecs";
import {
  LambdaClient, SendDurableExecutionCallbackSuccessCommand, SendDurableExecutionCallbackHeartbeatCommand,
} from "@aws-sdk/client-lambda";

const common = (endpoint) => ({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDCAIRNTEST", secretAccessKey: "cairn-test-secret" },
  maxAttempts: 2,
});

function plain(av) {
  const [type, v] = Object.entries(av)[0];
  switch (type) {
    case "S": return v;
    case "N": return `\u0000N:${v}`;  // the digits as DynamoDB sent them (see toJson)
    case "BOOL": return v;
    case "NULL": return null;
    case "M": return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    case "L": return v.map(plain);
    default: return v;
  }
}

// JSON text of a plain value with numbers written as DynamoDB sent them
// (JavaScript numbers would round integers beyond 2^53).
const toJson = (value) => JSON.stringify(value).replace(/"\\u0000N:([^"]*)"/g, "$1");

const [command, ...args] = process.argv.slice(2);

if (command === "setup-ecs") {
  const ecs = new ECSClient(common(args[0]));
  const ec2 = new EC2Client(common(args[0]));
  await ecs.send(new CreateClusterCommand({ clusterName: "cairn" }));
  await ecs.send(new RegisterTaskDefinitionCommand({
    family: "worker", networkMode: "awsvpc", requiresCompatibilities: ["FARGATE"], cpu: "256", memory: "512",
    containerDefinitions: [{ name: "worker", image: "busybox", cpu: 256, memory: 512, essential: true }],
  }));
  const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets.map((s) => s.SubnetId);
  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups.map((g) => g.GroupId);
  console.log(`SUBNETS=${subnets.slice(0, 2).join(",")} SECURITY_GROUPS=${groups[0]}`);
} else if (command === "create-table") {
  const ddb = new DynamoDBClient(common(args[0]));
  await ddb.send(new CreateTableCommand({
    TableName: args[1], BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: "executionId", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "executionId", KeyType: "HASH" }],
  }));
  // dynalite makes a new table ACTIVE on a later tick, as DynamoDB does
  // later still; items cannot be written before.
  for (let i = 0; ; ++i) {
    const d = await ddb.send(new DescribeTableCommand({ TableName: args[1] }));
    if (d.Table.TableStatus === "ACTIVE") break;
    if (i >= 500) throw new Error(`table ${args[1]} did not become ACTIVE in 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
} else if (command === "get-item") {
  const ddb = new DynamoDBClient(common(args[0]));
  const out = await ddb.send(new GetItemCommand({
    TableName: args[1], Key: { executionId: { S: args[2] } }, ConsistentRead: true,
  }));
  console.log(out.Item ? toJson(plain({ M: out.Item })) : "null");
} else if (command === "container") {
  const [motoUrl, cairnUrl, dynamoUrl] = args;
  const ecs = new ECSClient(common(motoUrl));
  const lambda = new LambdaClient(common(cairnUrl));
  const deadline = Date.now() + 60_000;
  let done = false;
  while (!done && Date.now() < deadline) {
    const arns = (await ecs.send(new ListTasksCommand({ cluster: "cairn" }))).taskArns ?? [];
    const tasks = arns.length
      ? (await ecs.send(new DescribeTasksCommand({ cluster: "cairn", tasks: arns }))).tasks ?? []
      : [];
    for (const task of tasks) {
      const env = Object.fromEntries(
        (task.overrides?.containerOverrides?.[0]?.environment ?? []).map((e) => [e.name, e.value]));
      if (!env.CALLBACK_ID) continue;
      let message = env.MESSAGE;
      if (message === undefined && env.TABLE_NAME && dynamoUrl) {
        const ddb = new DynamoDBClient(common(dynamoUrl));
        const item = await ddb.send(new GetItemCommand({
          TableName: env.TABLE_NAME, Key: { executionId: { S: env.EXECUTION_ID } }, ConsistentRead: true,
        }));
        message = item.Item?.message?.S;
      }
      const words = (message ?? "").split(/\s+/).filter(Boolean).length;
      // Tasks of earlier executions stay in moto's cluster: their callbacks
      // are closed, so cairn refuses the heartbeat; skip them.
      try {
        await lambda.send(new SendDurableExecutionCallbackHeartbeatCommand({ CallbackId: env.CALLBACK_ID }));
      } catch (e) {
        continue;
      }
      await lambda.send(new SendDurableExecutionCallbackSuccessCommand({
        CallbackId: env.CALLBACK_ID,
        Result: new TextEncoder().encode(JSON.stringify({ words, taskArn: task.taskArn })),
      }));
      console.log(`container: completed callback of ${task.taskArn} (${words} words)`);
      done = true;
      break;
    }
    if (!done) await new Promise((r) => setTimeout(r, 200));
  }
  if (!done) {
    console.error("container: no task with CALLBACK_ID appeared within 60 s");
    process.exit(1);
  }
} else {
  console.error(`usage: node peer.mjs setup-ecs|create-table|get-item|container ...`);
  process.exit(2);
}
