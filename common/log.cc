#include "common/log.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

namespace mw {

namespace {

struct LogState {
  std::mutex mutex;
  std::string role = "millionway";
  bool json = true;
};

LogState& State() {
  static auto* state = new LogState();  // outlives every thread that may still log at exit
  return *state;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// RFC 3339 in UTC with milliseconds.
std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof(text) - n, ".%03dZ", static_cast<int>(millis));
  return text;
}

}  // namespace

void AddLogFlags(CLI::App& app, std::string* format) {
  app.add_option("--log-format", *format, "json (for log collectors) or text (for people)")
      ->envname("MW_LOG_FORMAT");
}

Status InitLog(const std::string& role, const std::string& format) {
  if (format != "json" && format != "text") {
    return Status::InvalidArgument("--log-format: '" + format + "' is neither json nor text");
  }
  LogState& state = State();
  std::lock_guard<std::mutex> lock(state.mutex);
  state.role = role;
  state.json = format == "json";
  return Status::Ok();
}

void Log(LogLevel level, const std::string& message, std::initializer_list<LogField> fields) {
  LogState& state = State();
  std::string line;
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    if (state.json) {
      nlohmann::json event = {
          {"ts", Timestamp()}, {"level", LevelName(level)}, {"role", state.role}, {"msg", message}};
      for (const auto& field : fields) event[field.key] = field.value;
      line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = Timestamp() + " " + LevelName(level) + " " + state.role + ": " + message;
      for (const auto& field : fields) line += std::string(" ") + field.key + "=" + field.value;
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace mw
