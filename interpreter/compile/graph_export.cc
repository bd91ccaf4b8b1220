#include "compile/graph_export.h"

#include <string_view>

namespace cairn {
namespace {

// Control characters and runs of whitespace become one space; trimmed.
std::string OneLine(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    bool space = c < 0x20 || c == 0x7f || c == ' ';
    if (!space) {
      out.push_back(static_cast<char>(c));
    } else if (!out.empty() && out.back() != ' ') {
      out.push_back(' ');
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// At most `max` code points of UTF-8 `s`, with "…" in place of the rest.
std::string Truncate(const std::string& s, size_t max) {
  size_t points = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) continue;  // continuation byte
    if (points == max) return s.substr(0, i) + "…";
    ++points;
  }
  return s;
}

std::string ConditionText(const nlohmann::json& condition) {
  std::string text = condition.is_string() ? condition.get<std::string>() : condition.dump();
  return Truncate(OneLine(text), kMaxLabelCondition);
}

std::string KindText(const GraphNode& n) {
  switch (n.kind) {
    case StepKind::kAction:
      return n.step->action.type;
    case StepKind::kPoll:
      return n.step->poll.check.type.empty() ? "poll" : "poll " + n.step->poll.check.type;
    default:
      return StepKindName(n.kind);
  }
}

// The second label line: "<kind> · <durable operation>".
std::string NodeDetail(const StepGraph& graph, const GraphNode& n) {
  const DurableOperation& op = n.operation;
  std::string text = KindText(n) + " · ";
  if (n.kind == StepKind::kAwait) return text + "reads " + graph.node(op.reads).name;
  if (!op.has_operation()) return text + "no operation";
  text += std::string(OperationTypeName(op.type)) + " " + op.sub_type;
  if (op.step_retries && n.kind != StepKind::kPoll) text += " (retry)";
  return text;
}

std::string ScopeTitle(const StepGraph& graph, const GraphScope& scope) {
  const GraphNode& owner = graph.node(scope.owner);
  switch (scope.kind) {
    case ScopeKind::kBranch:
      return owner.name + " · branch " + OneLine(scope.name);
    case ScopeKind::kMapBody:
      return owner.name + " · each item";
    case ScopeKind::kGroupBody:
      return owner.name + " · group";
    case ScopeKind::kCaseBody:
      return owner.name + " · if " + ConditionText(owner.step->cases[scope.index].condition);
    case ScopeKind::kRoot:
      break;
  }
  return owner.name;
}

std::string ErrorNames(const std::vector<std::string>& errors) {
  if (errors.empty()) return "all";
  std::string text;
  for (const auto& e : errors) text += (text.empty() ? "" : ", ") + e;
  return Truncate(OneLine(text), kMaxLabelCondition);
}

std::string EdgeLabel(const StepGraph& graph, const GraphEdge& e) {
  const GraphNode& from = graph.node(e.from);
  std::string label;
  switch (e.kind) {
    case GraphEdgeKind::kNext:
      break;
    case GraphEdgeKind::kCase: {
      const SwitchCase& c = from.step->cases[e.index];
      label = (c.has_steps ? "after if " : "if ") + ConditionText(c.condition);
      break;
    }
    case GraphEdgeKind::kDefault:
      label = "default";
      break;
    case GraphEdgeKind::kCatch:
      label = "catch: " + ErrorNames(from.step->catches[e.index].errors);
      break;
    case GraphEdgeKind::kEnter: {
      const GraphScope& scope = graph.scope(e.scope);
      if (scope.kind == ScopeKind::kBranch) label = "branch " + OneLine(scope.name);
      if (scope.kind == ScopeKind::kMapBody) label = "each item";
      if (scope.kind == ScopeKind::kCaseBody) {
        label = "if " + ConditionText(from.step->cases[scope.index].condition);
      }
      break;
    }
  }
  // Leaving a nested scope (the target is the owner, not an end node).
  if (label.empty() && e.exit != ScopeExit::kNone && !graph.node(e.to).synthetic()) {
    label = e.exit == ScopeExit::kEnd ? "end" : "fail";
  }
  if (e.back_edge) label = label.empty() ? "loop" : label + " (loop)";
  return label;
}

enum class Shape { kBox, kRounded, kDiamond, kTerminal };

Shape NodeShape(const GraphNode& n) {
  if (n.synthetic()) return Shape::kTerminal;
  if (n.kind == StepKind::kSwitch) return Shape::kDiamond;
  return n.operation.has_operation() ? Shape::kBox : Shape::kRounded;
}

enum class EdgeStyle { kSolid, kCatch, kExit, kLoop };

EdgeStyle StyleOf(const StepGraph& graph, const GraphEdge& e) {
  if (e.back_edge) return EdgeStyle::kLoop;
  if (e.kind == GraphEdgeKind::kCatch) return EdgeStyle::kCatch;
  if (e.exit != ScopeExit::kNone && !graph.node(e.to).synthetic()) return EdgeStyle::kExit;
  return EdgeStyle::kSolid;
}

// A format: how to write one node, one scope's frame and one edge.
class Writer {
 public:
  virtual ~Writer() = default;
  virtual void Begin(const StepGraph& graph) = 0;
  virtual void Node(const GraphNode& n, const std::string& name, const std::string& detail,
                    int depth) = 0;
  virtual void OpenScope(const GraphScope& scope, const std::string& title, int depth) = 0;
  virtual void CloseScope(int depth) = 0;
  virtual void Edge(const GraphEdge& e, const std::string& label, EdgeStyle style) = 0;
  virtual void End() = 0;

  std::string& out() { return out_; }

 protected:
  static std::string Indent(int depth) { return std::string(2 * static_cast<size_t>(depth), ' '); }
  std::string out_;
};

class Renderer {
 public:
  Renderer(const StepGraph& graph, Writer* writer) : graph_(graph), writer_(writer) {}

  std::string Render() {
    writer_->Begin(graph_);
    Node(graph_.node(kStartNode), 1);
    Scope(kRootScope, 1);
    for (NodeId end : {kSucceededNode, kFailedNode}) {
      if (!graph_.node(end).in.empty()) Node(graph_.node(end), 1);
    }
    for (const GraphEdge& e : graph_.edges()) {
      writer_->Edge(e, EdgeLabel(graph_, e), StyleOf(graph_, e));
    }
    writer_->End();
    return std::move(writer_->out());
  }

 private:
  void Node(const GraphNode& n, int depth) {
    writer_->Node(n, n.name, n.synthetic() ? "" : NodeDetail(graph_, n), depth);
  }

  void Scope(ScopeId id, int depth) {
    for (NodeId n : graph_.scope(id).nodes) {
      Node(graph_.node(n), depth);
      for (ScopeId child : graph_.node(n).child_scopes) {
        writer_->OpenScope(graph_.scope(child), ScopeTitle(graph_, graph_.scope(child)), depth);
        Scope(child, depth + 1);
        writer_->CloseScope(depth);
      }
    }
  }

  const StepGraph& graph_;
  Writer* writer_;
};

// Mermaid: labels in "..." with entity codes for the characters Mermaid or
// the HTML it renders to would interpret.
std::string MermaidText(std::string_view s) {
  std::string out;
  for (char c : OneLine(s)) {
    switch (c) {
      case '"':
        out += "#quot;";
        break;
      case '#':
        out += "#35;";
        break;
      case '&':
        out += "#38;";
        break;
      case '<':
        out += "#60;";
        break;
      case '>':
        out += "#62;";
        break;
      case '`':
        out += "#96;";
        break;
      case '|':
        out += "#124;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

class MermaidWriter : public Writer {
 public:
  void Begin(const StepGraph&) override { out_ += "flowchart TD\n"; }

  void Node(const GraphNode& n, const std::string& name, const std::string& detail,
            int depth) override {
    std::string label = MermaidText(name);
    if (!detail.empty()) label += "<br/>" + MermaidText(detail);
    const char* open = "[\"";
    const char* close = "\"]";
    switch (NodeShape(n)) {
      case Shape::kBox:
        break;
      case Shape::kRounded:
        open = "(\"";
        close = "\")";
        break;
      case Shape::kDiamond:
        open = "{\"";
        close = "\"}";
        break;
      case Shape::kTerminal:
        open = "([\"";
        close = "\"])";
        break;
    }
    out_ += Indent(depth) + "n" + std::to_string(n.id) + open + label + close + "\n";
  }

  void OpenScope(const GraphScope& scope, const std::string& title, int depth) override {
    out_ += Indent(depth) + "subgraph s" + std::to_string(scope.id) + " [\"" + MermaidText(title) +
            "\"]\n";
  }

  void CloseScope(int depth) override { out_ += Indent(depth) + "end\n"; }

  void Edge(const GraphEdge& e, const std::string& label, EdgeStyle style) override {
    const char* arrow = "-->";
    if (style == EdgeStyle::kCatch || style == EdgeStyle::kExit) arrow = "-.->";
    if (style == EdgeStyle::kLoop) arrow = "==>";
    out_ += "  n" + std::to_string(e.from) + " " + arrow;
    if (!label.empty()) out_ += "|\"" + MermaidText(label) + "\"|";
    out_ += " n" + std::to_string(e.to) + "\n";
  }

  void End() override {}
};

// DOT: a double-quoted string; `\` and `"` escaped (a `\` left alone would
// start a Graphviz escape such as \n or \N), `&` written as `&amp;` (Graphviz
// decodes entities such as `&lt;` in every label).
std::string DotText(std::string_view s) {
  std::string out;
  for (char c : OneLine(s)) {
    if (c == '&') {
      out += "&amp;";
      continue;
    }
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

class DotWriter : public Writer {
 public:
  void Begin(const StepGraph& graph) override {
    out_ += "digraph \"" + DotText(graph.definition().name) + "\" {\n";
    out_ += "  graph [fontname=\"Helvetica\"];\n";
    out_ += "  node [shape=box, fontname=\"Helvetica\"];\n";
    out_ += "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  }

  void Node(const GraphNode& n, const std::string& name, const std::string& detail,
            int depth) override {
    std::string label = DotText(name);
    if (!detail.empty()) label += "\\n" + DotText(detail);
    out_ += Indent(depth) + "n" + std::to_string(n.id) + " [label=\"" + label + "\"";
    switch (NodeShape(n)) {
      case Shape::kBox:
        break;
      case Shape::kRounded:
        out_ += ", style=rounded";
        break;
      case Shape::kDiamond:
        out_ += ", shape=diamond";
        break;
      case Shape::kTerminal:
        out_ += ", shape=oval";
        break;
    }
    out_ += "];\n";
  }

  void OpenScope(const GraphScope& scope, const std::string& title, int depth) override {
    out_ += Indent(depth) + "subgraph cluster_s" + std::to_string(scope.id) + " {\n";
    out_ += Indent(depth + 1) + "label=\"" + DotText(title) + "\";\n";
    out_ += Indent(depth + 1) + "style=rounded;\n";
  }

  void CloseScope(int depth) override { out_ += Indent(depth) + "}\n"; }

  void Edge(const GraphEdge& e, const std::string& label, EdgeStyle style) override {
    std::string attrs;
    auto add = [&](const std::string& a) { attrs += (attrs.empty() ? "" : ", ") + a; };
    if (!label.empty()) add("label=\"" + DotText(label) + "\"");
    if (style == EdgeStyle::kCatch) add("style=dashed, color=red");
    if (style == EdgeStyle::kExit) add("style=dotted, constraint=false");
    if (style == EdgeStyle::kLoop) add("color=blue, constraint=false");
    out_ += "  n" + std::to_string(e.from) + " -> n" + std::to_string(e.to);
    if (!attrs.empty()) out_ += " [" + attrs + "]";
    out_ += ";\n";
  }

  void End() override { out_ += "}\n"; }
};

}  // namespace

std::string ToMermaid(const StepGraph& graph) {
  MermaidWriter writer;
  return Renderer(graph, &writer).Render();
}

std::string ToDot(const StepGraph& graph) {
  DotWriter writer;
  return Renderer(graph, &writer).Render();
}

}  // namespace cairn
