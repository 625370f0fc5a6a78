#include "worker/data/shards/http_byte_source.h"

#include <curl/curl.h>

#include <strings.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <random>
#include <thread>

#include "common/log.h"

namespace mw {

namespace {

constexpr size_t kMaxErrorBody = 2048;

// What one request brought back.
struct Transfer {
  std::string* out = nullptr;
  uint64_t start = 0;        // the first byte asked for
  int64_t range_start = -1;  // the first byte of the response's Content-Range
  bool wrong_range = false;  // a 206 of other bytes, or a 200 to a request past byte 0
  uint64_t want = 0;         // bytes still wanted from this response
  bool exact = false;
  bool accept_full_body = false;  // a 200 (the server ignored Range) is fine at offset 0
  CURL* curl = nullptr;
  std::string error_body;
  bool overflow = false;
};

size_t OnHeader(char* data, size_t one, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, one * n);
  if (line.rfind("HTTP/", 0) == 0) t->range_start = -1;  // a new response (a redirect's)
  constexpr char kName[] = "content-range:";
  if (line.size() > sizeof kName && strncasecmp(line.c_str(), kName, sizeof kName - 1) == 0) {
    const size_t digits = line.find_first_of("0123456789", sizeof kName - 1);
    if (digits != std::string::npos)
      t->range_start = std::strtoll(line.c_str() + digits, nullptr, 10);
  }
  return one * n;
}

size_t OnBody(char* data, size_t one, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = one * n;
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  // Bytes other than the ones asked for must not be appended: a 206 of another range (a
  // confused cache), or a whole object sent again after a partial read.
  if ((code == 206 && t->range_start != static_cast<int64_t>(t->start)) ||
      (code == 200 && !t->accept_full_body)) {
    t->wrong_range = true;
    return 0;
  }
  if (code == 206 || code == 200) {
    if (!t->exact && bytes > t->want) {
      t->overflow = true;
      return 0;
    }
    const size_t keep = static_cast<size_t>(std::min<uint64_t>(bytes, t->want));
    t->out->append(data, keep);
    t->want -= keep;
    return keep;  // short of `bytes`: aborts a 200's full body once the range is here
  }
  // An error page (a 5xx's, a 403's) is not the object: kept apart, for the message.
  const size_t room = kMaxErrorBody - std::min(kMaxErrorBody, t->error_body.size());
  t->error_body.append(data, std::min(room, bytes));
  return bytes;
}

bool Retryable(CURLcode code, long http) {
  if (code == CURLE_OK || code == CURLE_WRITE_ERROR) {
    return http >= 500 || http == 429 || http == 408;
  }
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

std::string Snippet(const std::string& body) {
  std::string s = body.substr(0, 300);
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    // With CURLOPT_NOSIGNAL (needed with threads) libcurl leaves SIGPIPE to the program: a
    // TLS write to a connection the store closed would otherwise kill the process.
    std::signal(SIGPIPE, SIG_IGN);
  });
}

}  // namespace

HttpByteSource::HttpByteSource(std::string base_url, ObjectStoreOptions options, bool sign_for_s3)
    : base_url_(std::move(base_url)), options_(std::move(options)), sign_for_s3_(sign_for_s3) {
  CurlGlobalInit();
}

HttpByteSource::~HttpByteSource() {
  for (void* h : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpByteSource::AcquireHandle() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_handles_.empty()) {
      void* h = idle_handles_.back();
      idle_handles_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpByteSource::ReleaseHandle(void* handle) const {
  std::lock_guard<std::mutex> lock(mu_);
  idle_handles_.push_back(handle);
}

Status HttpByteSource::Read(const std::string& name, uint64_t offset, uint64_t size,
                            std::string* out) const {
  return Fetch(Locate(name), offset, size, true, out);
}

Status HttpByteSource::ReadAll(const std::string& name, uint64_t max_bytes,
                               std::string* out) const {
  return Fetch(Locate(name), 0, max_bytes, false, out);
}

Status HttpByteSource::Fetch(const std::string& url, uint64_t offset, uint64_t size, bool exact,
                             std::string* out) const {
  out->clear();
  if (exact && size == 0) return Status::Ok();
  // Grown as bytes arrive past 64 MiB: a size from a hostile manifest allocates nothing.
  if (exact) out->reserve(std::min<uint64_t>(size, 64ull << 20));
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  thread_local std::mt19937_64 jitter(std::random_device{}());
  const std::string credentials = options_.access_key_id + ":" + options_.secret_access_key;
  const std::string sigv4 = "aws:amz:" + options_.s3_region + ":s3";
  const std::string token_header = "x-amz-security-token: " + options_.session_token;
  std::string last_error;
  Status result = Status::Ok();
  bool done = false;
  for (int attempt = 1; attempt <= options_.max_attempts && !done; ++attempt) {
    const uint64_t start = offset + out->size();
    Transfer t;
    t.out = out;
    t.start = start;
    t.want = size - out->size();
    t.exact = exact;
    t.accept_full_body = start == 0;
    t.curl = curl;
    std::string range = std::to_string(start) + "-";
    if (exact) range += std::to_string(offset + size - 1);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);  // fewer callbacks for shards
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout_s * 1000));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(std::lround(options_.stall_timeout_s))));
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    struct curl_slist* headers = nullptr;
    if (sign_for_s3_) {
      curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
      curl_easy_setopt(curl, CURLOPT_USERPWD, credentials.c_str());
      // S3 wants the payload's hash; GETs have none (curl signs this value, since 7.86).
      headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
      if (!options_.session_token.empty())
        headers = curl_slist_append(headers, token_header.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    const CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    long http = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
    const bool body_ok = http == 206 || (http == 200 && t.accept_full_body);
    const std::string where = url + " bytes " + range;
    if (t.wrong_range) {
      result = Status::FailedPrecondition(
          where + ": the server answered other bytes (HTTP " + std::to_string(http) +
          ", from byte " + std::to_string(t.range_start) + "): it must honour Range");
      done = true;
    } else if (t.overflow) {
      result = Status::ResourceExhausted(url + ": larger than " + std::to_string(size) + " bytes");
      done = true;
    } else if (body_ok && (code == CURLE_OK || (code == CURLE_WRITE_ERROR && t.want == 0))) {
      if (exact && out->size() < size) {
        result = Status::DataLoss(url + ": ends at byte " + std::to_string(offset + out->size()) +
                                  ", before " + std::to_string(offset + size) + " (truncated?)");
      }
      done = true;
    } else if (http == 416) {
      result = Status::DataLoss(url + ": has no byte " + std::to_string(start) + " (truncated?)");
      done = true;
    } else if (!Retryable(code, http)) {
      const std::string why = code != CURLE_OK && code != CURLE_WRITE_ERROR
                                  ? curl_easy_strerror(code)
                                  : "HTTP " + std::to_string(http) + " " + Snippet(t.error_body);
      result = http == 404                  ? Status::NotFound(url + ": " + why)
               : http == 401 || http == 403 ? Status::PermissionDenied(url + ": " + why)
                                            : Status::FailedPrecondition(where + ": " + why);
      done = true;
    } else {
      last_error = code != CURLE_OK ? curl_easy_strerror(code) : "HTTP " + std::to_string(http);
      if (attempt < options_.max_attempts) {
        const double backoff =
            std::min(options_.max_backoff_s, options_.first_backoff_s * std::pow(2.0, attempt - 1));
        const double sleep_s = backoff * std::uniform_real_distribution<double>(0.5, 1.0)(jitter);
        Log(LogLevel::kWarning, "object read retried",
            {{"url", url},
             {"from_byte", std::to_string(offset + out->size())},
             {"attempt", std::to_string(attempt)},
             {"error", last_error}});
        std::this_thread::sleep_for(std::chrono::duration<double>(sleep_s));
      }
    }
  }
  ReleaseHandle(curl);
  if (!done) {
    return Status::Unavailable(url + ": gave up after " + std::to_string(options_.max_attempts) +
                               " attempts at byte " + std::to_string(offset + out->size()) + ": " +
                               last_error);
  }
  return result;
}

}  // namespace mw
