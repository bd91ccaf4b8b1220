#!/usr/bin/env bash
# The seed workflows end to end with `cairn run` against dynalite and moto
# (run under with_peers.sh, which exports CAIRN_E2E_DYNAMODB/CAIRN_E2E_MOTO):
#   1. a conditional put that fails, caught by a `catch:` (dynalite);
#   2. workflows/ecs-poll.yaml: RunTask, DescribeTasks polled until STOPPED;
#   3. workflows/ecs-callback.yaml: RunTask with CALLBACK_ID in the
#      overrides; a process playing the container finds it with
#      DescribeTasks and completes the callback through cairn's local
#      Lambda API (@aws-sdk/client-lambda);
#   4. workflows/ecs-callback-dynamodb.yaml: the same plus the DynamoDB
#      record (created, task ARN recorded, COMPLETED with the result).
# Usage: workflows_e2e_test.sh CAIRN_BINARY SOURCE_DIR
# Exit 77 (skipped) when a peer is missing.
set -u
CAIRN=$1
SRC=$2
HERE="$SRC/tests/aws_e2e"
if [ -z "${CAIRN_E2E_DYNAMODB:-}" ] || [ -z "${CAIRN_E2E_MOTO:-}" ]; then
  echo "SKIP: needs dynalite and moto_server: ${CAIRN_E2E_MISSING:-run under tests/aws_e2e/with_peers.sh}"
  exit 77
fi
TMP=$(mktemp -d)
bg=()
trap 'for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
passed=0
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
ok() { echo "ok: $*"; passed=$((passed + 1)); }
expect_grep() { if grep -q -- "$1" "$2"; then ok "$3"; else fail "$3: '$1' not in $2:"; cat "$2"; fi; }

export AWS_ACCESS_KEY_ID=AKIDCAIRNTEST AWS_SECRET_ACCESS_KEY=cairn-test-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
export AWS_ENDPOINT_URL_DYNAMODB="$CAIRN_E2E_DYNAMODB" AWS_ENDPOINT_URL_ECS="$CAIRN_E2E_MOTO"
export CAIRN_BIN="$CAIRN"
export NODE_NO_WARNINGS=1  # the SDK's notice about future Node versions
unset CAIRN_ENDPOINT CAIRN_STORE
STORE="$TMP/state/cairn.db"
peer() { node "$HERE/peer.mjs" "$@"; }

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

peer create-table "$CAIRN_E2E_DYNAMODB" calls || fail "create table"
setup=$(peer setup-ecs "$CAIRN_E2E_MOTO") || fail "set up moto"
eval "export $setup"
export CALLBACK_TABLE=calls ECS_CLUSTER=cairn TASK_DEFINITION=worker:1
echo "moto: SUBNETS=$SUBNETS SECURITY_GROUPS=$SECURITY_GROUPS"

# 1. conditional put caught by a catch
cat >"$TMP/conditional.yaml" <<'YAML'
cairn: 1
name: conditional-put
params:
  table: {env: CALLBACK_TABLE}
steps:
  - name: create
    dynamodb.putItem:
      table: ${ .params.table }
      item: {executionId: "${ .execution.name }", status: NEW, big: 9223372036854775807}
      condition: attribute_not_exists(executionId)
  - name: createAgain
    dynamodb.putItem:
      table: ${ .params.table }
      item: {executionId: "${ .execution.name }", status: OVERWRITTEN}
      condition: attribute_not_exists(executionId)
    catch:
      - errors: [DynamoDB.ConditionalCheckFailedException]
        next: recordConflict
  - name: unexpected
    fail: {error: ShouldNotHappen, cause: the second put succeeded}
  - name: recordConflict
    dynamodb.updateItem:
      table: ${ .params.table }
      key: {executionId: "${ .execution.name }"}
      set: {status: CONFLICT, caught: "${ .error.error }"}
      add: {conflicts: 1}
      returnValues: UPDATED_NEW
output: ${ .steps.recordConflict.attributes }
YAML
timeout 60 "$CAIRN" run "$TMP/conditional.yaml" --store "$STORE" --name cond-1 >"$TMP/out1" 2>"$TMP/err1"
[ $? -eq 0 ] && ok "conditional put workflow succeeded" || { fail "conditional put workflow"; cat "$TMP/err1"; }
expect_grep '"caught": "DynamoDB.ConditionalCheckFailedException"' "$TMP/out1" "the catch saw the service's error name (UPDATED_NEW)"
expect_grep '"conflicts": 1' "$TMP/out1" "UPDATED_NEW returned the updated attributes"
peer get-item "$CAIRN_E2E_DYNAMODB" calls cond-1 >"$TMP/item1"
expect_grep '"status":"CONFLICT"' "$TMP/item1" "the record was updated, not overwritten"
expect_grep '"big":9223372036854775807' "$TMP/item1" "a 64-bit integer reached DynamoDB with every digit"

# 2. ecs-poll
timeout 120 "$CAIRN" run "$SRC/workflows/ecs-poll.yaml" --store "$STORE" --name poll-1 \
  --input '{"jobId": "job-1"}' >"$TMP/out2" 2>"$TMP/err2"
[ $? -eq 0 ] && ok "ecs-poll succeeded" || { fail "ecs-poll"; cat "$TMP/err2"; }
expect_grep '"exitCode": 0' "$TMP/out2" "ecs-poll output has the exit code"
expect_grep 'arn:aws:ecs:us-east-1:123456789012:task/cairn/' "$TMP/out2" "ecs-poll output has the task ARN"
expect_grep "waitForStop" "$TMP/err2" "ecs-poll polled"

# run_with_container WORKFLOW NAME INPUT N: cairn run on a known port with
# the container process completing the callback.
run_with_container() {
  local port
  port=$(free_port)
  timeout 120 "$CAIRN" run "$1" --store "$STORE" --name "$2" --port "$port" --input "$3" \
    >"$TMP/out$4" 2>"$TMP/err$4" &
  local run_pid=$!
  bg+=("$run_pid")
  peer container "$CAIRN_E2E_MOTO" "http://127.0.0.1:$port" "$CAIRN_E2E_DYNAMODB" >"$TMP/container$4" 2>&1 \
    || { fail "container of $2"; cat "$TMP/container$4"; }
  wait "$run_pid"
}

# 3. ecs-callback
run_with_container "$SRC/workflows/ecs-callback.yaml" cb-1 '{"message": "one two three"}' 3
[ $? -eq 0 ] && ok "ecs-callback succeeded" || { fail "ecs-callback"; cat "$TMP/err3"; }
expect_grep '"words": 3' "$TMP/out3" "ecs-callback output is what the container sent"
expect_grep "completed callback" "$TMP/container3" "the container found CALLBACK_ID in the task's overrides"

# 4. ecs-callback-dynamodb
run_with_container "$SRC/workflows/ecs-callback-dynamodb.yaml" cbd-1 '{"message": "a b c d e"}' 4
[ $? -eq 0 ] && ok "ecs-callback-dynamodb succeeded" || { fail "ecs-callback-dynamodb"; cat "$TMP/err4"; }
expect_grep '"words": 5' "$TMP/out4" "the container read the message from the DynamoDB record"
peer get-item "$CAIRN_E2E_DYNAMODB" calls cbd-1 >"$TMP/item4"
expect_grep '"status":"COMPLETED"' "$TMP/item4" "the record is COMPLETED"
expect_grep '"taskArn":"arn:aws:ecs' "$TMP/item4" "the record has the task ARN"
expect_grep '"result":{' "$TMP/item4" "the record has the result"
expect_grep '"processingTime":10' "$TMP/item4" "the input default reached the record as a number"

echo "workflows_e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
