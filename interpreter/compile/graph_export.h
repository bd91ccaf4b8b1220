// Readable renderings of a StepGraph: Mermaid flowcharts and Graphviz DOT.
//
// Both show the same thing (`cairn graph` prints either):
//  * a node per step, labelled "<name>\n<kind> · <durable operation>", e.g.
//    "runTask\necs.runTask · CONTEXT WaitForCallback" ("no operation" for
//    set/switch/succeed/fail, "reads <callback>" for await, "(retry)" when
//    the STEP takes RETRY updates for a retry policy); a switch is a
//    diamond, steps without an operation are rounded, the synthetic start /
//    succeeded / failed nodes are ovals (the end nodes only when some edge
//    reaches them);
//  * a subgraph (DOT: cluster) per child scope: parallel branch, map body,
//    group body, switch case body, nested like the workflow;
//  * edges styled by kind: catch dashed and labelled with its error names;
//    switch cases labelled with the condition (whitespace collapsed, cut to
//    kMaxLabelCondition characters with "…"); default labelled; edges that
//    leave a nested scope dotted, labelled "end"/"fail" (and in DOT
//    non-constraining, so they do not pull the layout upwards); entering edges
//    labelled with the branch name / "each item" / the case condition;
//    loop back-edges drawn thick (Mermaid) or blue and non-constraining
//    (DOT), labelled "loop".
// Text from the workflow is escaped for each format: Mermaid labels are
// quoted with `"` and `#` `<` `>` `&` `` ` `` `|` written as entity codes
// (`#quot;`, `#35;`, ...); DOT strings escape `\` and `"`, and `&` as
// `&amp;`. Control characters become spaces.
//
// Pure functions of the graph; thread-safe. Recursion follows the nesting
// of scopes, which the document's depth limit bounds.
#pragma once

#include <cstddef>
#include <string>

#include "compile/step_graph.h"

namespace cairn {

inline constexpr size_t kMaxLabelCondition = 40;  // characters (code points)

// A Mermaid `flowchart TD`, ending with a newline.
std::string ToMermaid(const StepGraph& graph);

// A Graphviz `digraph`, ending with a newline.
std::string ToDot(const StepGraph& graph);

}  // namespace cairn
