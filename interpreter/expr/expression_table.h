// ExpressionTable: every runtime expression of one workflow, compiled once.
//
// Produced by validation (ValidateDefinition / ValidateText), consumed by the
// compile phase, so a workflow's expressions go through exactly one
// jq_compile per load.
//
// Contract:
//  * `templates` maps the JSON pointer of a string value in the workflow
//    document (e.g. "/steps/2/ecs.runTask/cluster") to its program: the
//    parsed template and, per part, the index of the expression in `set`
//    (-1 for literal parts). Only strings that hold at least one expression
//    and are evaluated against the context are in the table: names, `next`
//    targets, error lists, descriptions and other plain strings are not, and
//    a string that is not in the table is used literally (with `$${`
//    unescaped by the compile phase when it needs to).
//  * `set` holds every expression of every template, already compiled
//    (ExpressionSet::Compile has been called, with one jq_compile at most;
//    none when there is no expression). It is never null once validation
//    has filled the table, even when the workflow has no expression. When
//    validation reported an expression error, the expressions at fault fail
//    at evaluation; a workflow is only executed when validation reported no
//    error.
//
// Thread-safety: immutable once validation returns; share it (read-only)
// across threads. ExpressionSet::Evaluate/Render are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "expr/expression_set.h"
#include "expr/template.h"

namespace cairn::expr {

struct ExpressionTable {
  std::shared_ptr<ExpressionSet> set;
  std::unordered_map<std::string, TemplateProgram> templates;

  // The program of the string at `pointer`, or nullptr when that string is
  // a literal.
  const TemplateProgram* Find(const std::string& pointer) const {
    auto it = templates.find(pointer);
    return it == templates.end() ? nullptr : &it->second;
  }
};

}  // namespace cairn::expr
