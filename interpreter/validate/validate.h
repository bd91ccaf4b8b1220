// validate: offline checks of a workflow — `cairn validate`.
//
// Reads a workflow file, builds its WorkflowDefinition and reports every
// problem found in one run, each a Diagnostic with a stable code (see
// validate/README.md for every code, its meaning, an example and the fix):
// YAML and the schema (schema/workflow.schema.json, embedded at build time),
// step kinds and names, next/catch targets, reachability and termination,
// expressions (jq syntax, sandbox, references to steps, params and context
// fields), durations, action parameters, callbacks and the `input:` schema.
//
// All expressions of the workflow are compiled with one jq_compile; the
// result (an ExpressionTable) is handed to the compile phase with the
// definition, so nothing is compiled twice.
//
// Thread-safety: the functions are reentrant; concurrent calls are safe.
#pragma once

#include <string>
#include <string_view>

#include "core/diagnostic.h"
#include "definition/workflow_definition.h"
#include "expr/expression_table.h"

namespace cairn {

struct ValidationResult {
  WorkflowDefinition definition;      // as read, even when there are errors
  expr::ExpressionTable expressions;  // see expr/expression_table.h
  // Errors and warnings, sorted by line and column, without duplicates.
  Diagnostics diagnostics;

  // True when no diagnostic is an error (warnings allowed): the definition
  // and expressions may then be compiled and run.
  bool ok() const { return !HasErrors(diagnostics); }
};

struct ValidateOptions {
  // Skips the JSON-schema pass (CRN010–CRN014, CRN023); every other check
  // runs. That pass is a pure function of the text and the embedded schema
  // (WorkflowSchemaDigest), and the costliest part of a first validation in a
  // process (it builds the schema's tree), so a caller that knows this same
  // text passed it under this same schema — the Lambda bundle's manifest,
  // lambda/workflow_bundle.h — may skip it. Never set it for other text: a
  // document the schema rejects would then reach compile.
  bool skip_schema_check = false;
};

// Validates YAML text; `file` is the name used in diagnostics.
ValidationResult ValidateText(std::string_view yaml, std::string file,
                              const ValidateOptions& options = {});

// Reads and validates a file. An unreadable file gives one diagnostic,
// CRN000, with the operating system's reason.
ValidationResult ValidateFile(const std::string& path);

// The checks after loading: runs every check on `def` and fills `*expressions`
// (REQUIRES: not null; its previous content is replaced). `source` is the YAML
// text `def` was read from, used to point into multi-character strings
// (expressions); when empty, such diagnostics point at the string's start.
// Returns the diagnostics, sorted and without duplicates.
Diagnostics ValidateDefinition(const WorkflowDefinition& def, expr::ExpressionTable* expressions,
                               std::string_view source = {}, const ValidateOptions& options = {});

}  // namespace cairn
