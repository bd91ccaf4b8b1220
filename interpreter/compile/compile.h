// CompileWorkflow: WorkflowDefinition → StepGraph, the one bridge between the
// symbolic and the compiled form (STYLE.md, habit 2).
#pragma once

#include <memory>

#include "compile/step_graph.h"
#include "core/result.h"
#include "definition/workflow_definition.h"

namespace cairn {

// Compiles `definition` into an immutable StepGraph that shares ownership of
// the definition and of `expressions` (the workflow's expressions, compiled
// once by validation; compile never compiles jq). `expressions` may be null
// for graphs that are only inspected or rendered.
//
// REQUIRES: `definition` is non-null and validated without errors.
// On success: the graph (shareable across threads).
// On failure: an Error with code "compile" and the JSON pointer of the
// offending element as context. Each failure is an input validation should
// have rejected (a step without exactly one kind, a duplicate or missing
// name, an unresolved next/catch/await target, an empty step list) or one
// that has no durable mapping (`durable:` written as an expression, a
// durable lambda.invoke with retry or waitForCallback or as a poll check, an
// operation Name over 256 bytes or with control characters). The graph is
// never built silently wrong.
Result<std::shared_ptr<const StepGraph>> CompileWorkflow(
    std::shared_ptr<const WorkflowDefinition> definition,
    std::shared_ptr<const expr::ExpressionTable> expressions);

}  // namespace cairn
