// How fast the JWKS watch may go, whatever the upstream does. Pure: it is told what happened
// and when, and says when the next blocking query and the next watch-triggered round may start.
//
// - Watch-triggered rounds: at most one per min_round_interval (5 s). The pause after a round
//   doubles (5 s, 10 s, 20 s … capped at max(refresh_interval, 5 s)) while rounds fail, confirm
//   nothing new, or publish again within twice the current pause of the previous publication
//   (an upstream changing faster than any keyring does); a publication after a quiet spell
//   resets it. So a real rotation is public at once, and a hostile upstream that answers every
//   blocking query at once with a "change" gets a round every refresh_interval or so.
// - Blocking queries: a failed one is retried after 2 s, 4 s … 60 s; one answered without
//   X-Nomad-Index after 5 s, 10 s … the cap; one answered at once with nothing new after 1 s,
//   2 s … the cap. A query that really blocked, or brought a change, is followed at once.
// Every pause is scaled by a random 75–100% (never under min_round_interval for rounds), so
// gateways started together do not query in lockstep.
#pragma once

#include <chrono>

namespace oidcgw {

struct WatchPacing {
    std::chrono::milliseconds min_round_interval{5'000};
    std::chrono::milliseconds max_delay{60'000};          // cap of the round and answer backoffs
    std::chrono::milliseconds max_failure_delay{60'000};  // cap of the backoff after failed queries
    std::chrono::milliseconds first_failure_delay{2'000};
    std::chrono::milliseconds first_quick_answer_delay{1'000};
    // A blocking query answered sooner than this did not block.
    std::chrono::milliseconds quick_answer{500};
};

// The pacing for a refresh_interval: the backoffs cap at max(refresh_interval, 5 s).
WatchPacing watch_pacing_for(std::chrono::milliseconds refresh_interval);

enum class RoundOutcome { Failed, Unchanged, Published };
const char* round_outcome_name(RoundOutcome outcome);  // "failed", "unchanged", "published"

// `first` doubled `streak - 1` times and capped at `cap`; zero for a streak of 0.
std::chrono::milliseconds backoff_delay(std::chrono::milliseconds first, int streak,
                                        std::chrono::milliseconds cap);

// `delay` scaled to between 75% (jitter 0) and 100% (jitter 1) of itself, never under `floor`.
std::chrono::milliseconds jittered(std::chrono::milliseconds delay, double jitter,
                                   std::chrono::milliseconds floor = std::chrono::milliseconds(0));

class WatchPacer {
  public:
    using Clock = std::chrono::steady_clock;

    explicit WatchPacer(WatchPacing pacing) : pacing_(pacing) {}

    // When the next blocking query, and the next watch-triggered round, may start.
    Clock::time_point next_query_at() const { return next_query_at_; }
    Clock::time_point next_round_at() const { return next_round_at_; }

    // Rounds in a row that failed, confirmed nothing new or published too soon (0: calm).
    int round_streak() const { return round_streak_; }
    // The pause the streak imposes after the next round, before jitter.
    std::chrono::milliseconds round_delay() const;

    // A watch-triggered round ended at `now`. `jitter` is uniform in [0, 1).
    void round_finished(RoundOutcome outcome, Clock::time_point now, double jitter);
    // A blocking query was answered (200) after `took`; `indexed`: it carried X-Nomad-Index;
    // `changed`: its body differs from what is published.
    void query_answered(bool indexed, bool changed, std::chrono::milliseconds took,
                        Clock::time_point now, double jitter);
    void query_failed(Clock::time_point now, double jitter);

  private:
    WatchPacing pacing_;
    Clock::time_point next_query_at_{};
    Clock::time_point next_round_at_{};
    Clock::time_point last_publication_{};
    bool published_before_ = false;
    int round_streak_ = 0;
    int failure_streak_ = 0;
    int unindexed_streak_ = 0;
    int quick_answer_streak_ = 0;
};

}  // namespace oidcgw
