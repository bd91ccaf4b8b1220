#include "core/diagnostic.h"

namespace cairn {

const char* SeverityName(Severity s) { return s == Severity::kError ? "error" : "warning"; }

}  // namespace cairn
