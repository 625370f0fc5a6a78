// Log: the services' one line per event on stdout. JSON by default, for log collectors
// ({"ts", "level", "role", "msg"} plus the event's fields, such as job_id and rank); plain
// text for people with --log-format text. Lines from many threads never interleave.
#pragma once

#include <initializer_list>
#include <string>

#include "common/status.h"

namespace CLI {
class App;
}

namespace mw {

enum class LogLevel { kInfo, kWarning, kError };

struct LogField {
  const char* key;
  std::string value;
};

// --log-format json|text (MW_LOG_FORMAT).
void AddLogFlags(CLI::App& app, std::string* format);
// Sets the role every line carries and the format; INVALID_ARGUMENT for an unknown format.
Status InitLog(const std::string& role, const std::string& format);

void Log(LogLevel level, const std::string& message, std::initializer_list<LogField> fields = {});

}  // namespace mw
