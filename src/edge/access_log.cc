#include "edge/access_log.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

namespace oidcgw {
namespace {

std::int64_t wall_clock_second() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// At most `limit` bytes, cut before a UTF-8 continuation byte so that no character is split.
std::string_view truncated(std::string_view text, std::size_t limit) {
    if (text.size() <= limit) return text;
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return text.substr(0, cut);
}

}  // namespace

AccessLog::AccessLog(Logger& logger) : AccessLog(logger, wall_clock_second) {}

AccessLog::AccessLog(Logger& logger, std::function<std::int64_t()> now_seconds)
    : logger_(logger), now_seconds_(std::move(now_seconds)) {}

void AccessLog::configure(bool enabled, unsigned max_per_second) noexcept {
    max_per_second_.store(std::max(1u, max_per_second), std::memory_order_relaxed);
    enabled_.store(enabled, std::memory_order_relaxed);
}

void AccessLog::record(const AccessRecord& record) {
    if (!enabled_.load(std::memory_order_relaxed)) return;
    if (!logger_.enabled(LogLevel::Info)) return;

    std::uint64_t suppressed_before = 0;
    bool write = false;
    {
        std::lock_guard lock(mutex_);
        const std::int64_t second = now_seconds_();
        if (second != current_second_) {
            suppressed_before = std::exchange(suppressed_, 0);
            current_second_ = second;
            written_this_second_ = 0;
        }
        write = written_this_second_ < max_per_second_.load(std::memory_order_relaxed);
        if (write) {
            ++written_this_second_;
        } else {
            ++suppressed_;
        }
    }
    // Logged outside the lock: the logger serialises its own writes.
    if (suppressed_before > 0) {
        logger_.info("access_log_suppressed",
                     {{"count", suppressed_before},
                      {"max_per_second", max_per_second_.load(std::memory_order_relaxed)}});
    }
    if (!write) return;

    const std::string_view method = truncated(record.method, kMaxMethodBytes);
    const std::string_view path = truncated(record.path, kMaxPathBytes);
    nlohmann::json fields = {{"client", std::string(record.client)},
                             {"method", std::string(method)},
                             {"path", std::string(path)},
                             {"status", record.status},
                             {"bytes", record.bytes},
                             {"issuer", std::string(record.issuer)}};
    if (!record.reason.empty()) fields["reason"] = std::string(record.reason);
    if (method.size() < record.method.size()) fields["method_truncated"] = true;
    if (path.size() < record.path.size()) fields["path_truncated"] = true;
    logger_.info("access", fields);
}

}  // namespace oidcgw
