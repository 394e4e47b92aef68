#include "upstream/watch_pacer.h"

#include <algorithm>

namespace oidcgw {

using std::chrono::milliseconds;

WatchPacing watch_pacing_for(milliseconds refresh_interval) {
    WatchPacing pacing;
    pacing.max_delay = std::max(refresh_interval, pacing.min_round_interval);
    return pacing;
}

const char* round_outcome_name(RoundOutcome outcome) {
    switch (outcome) {
        case RoundOutcome::Failed:
            return "failed";
        case RoundOutcome::Unchanged:
            return "unchanged";
        case RoundOutcome::Published:
            return "published";
    }
    return "failed";
}

milliseconds backoff_delay(milliseconds first, int streak, milliseconds cap) {
    if (streak <= 0) return milliseconds(0);
    milliseconds delay = first;
    for (int i = 1; i < streak && delay < cap; ++i) delay *= 2;
    return std::min(delay, cap);
}

milliseconds jittered(milliseconds delay, double jitter, milliseconds floor) {
    const double factor = 0.75 + 0.25 * std::clamp(jitter, 0.0, 1.0);
    const auto scaled =
        milliseconds(static_cast<long long>(static_cast<double>(delay.count()) * factor));
    return std::max(scaled, floor);
}

milliseconds WatchPacer::round_delay() const {
    // Streak 0 pauses min_round_interval, streak 1 twice that, and so on.
    return backoff_delay(pacing_.min_round_interval, round_streak_ + 1, pacing_.max_delay);
}

void WatchPacer::round_finished(RoundOutcome outcome, Clock::time_point now, double jitter) {
    if (outcome == RoundOutcome::Published) {
        // Published again within twice the current pause: the upstream is changing faster than
        // a keyring does. After a quiet spell, a publication is a rotation: calm again.
        const bool churning = published_before_ && now - last_publication_ < 2 * round_delay();
        round_streak_ = churning ? round_streak_ + 1 : 0;
        last_publication_ = now;
        published_before_ = true;
    } else {
        ++round_streak_;
    }
    next_round_at_ = now + jittered(round_delay(), jitter, pacing_.min_round_interval);
}

void WatchPacer::query_answered(bool indexed, bool changed, milliseconds took,
                                Clock::time_point now, double jitter) {
    failure_streak_ = 0;
    if (!indexed) {
        // Compared as a poll; the blocking query is tried again, later and later.
        quick_answer_streak_ = 0;
        ++unindexed_streak_;
        next_query_at_ = now + jittered(backoff_delay(pacing_.min_round_interval, unindexed_streak_,
                                                      pacing_.max_delay),
                                        jitter);
        return;
    }
    unindexed_streak_ = 0;
    if (!changed && took < pacing_.quick_answer) {
        // An index that moves with nothing new, at once: not a busy loop.
        ++quick_answer_streak_;
        next_query_at_ = now + jittered(backoff_delay(pacing_.first_quick_answer_delay,
                                                      quick_answer_streak_, pacing_.max_delay),
                                        jitter);
        return;
    }
    quick_answer_streak_ = 0;
    next_query_at_ = now;
}

void WatchPacer::query_failed(Clock::time_point now, double jitter) {
    ++failure_streak_;
    next_query_at_ = now + jittered(backoff_delay(pacing_.first_failure_delay, failure_streak_,
                                                  pacing_.max_failure_delay),
                                    jitter);
}

}  // namespace oidcgw
