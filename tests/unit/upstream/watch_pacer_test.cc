// The JWKS watch's pacing (watch_pacer.h): the backoff schedule, the jitter, and what each
// outcome does to the next round and the next blocking query.
#include "upstream/watch_pacer.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

using namespace std::chrono_literals;
using Clock = WatchPacer::Clock;

TEST(WatchBackoff, DoublesFromTheFirstDelayUpToTheCap) {
    EXPECT_EQ(backoff_delay(5s, 0, 60s), 0ms);
    EXPECT_EQ(backoff_delay(5s, 1, 60s), 5s);
    EXPECT_EQ(backoff_delay(5s, 2, 60s), 10s);
    EXPECT_EQ(backoff_delay(5s, 3, 60s), 20s);
    EXPECT_EQ(backoff_delay(5s, 4, 60s), 40s);
    EXPECT_EQ(backoff_delay(5s, 5, 60s), 60s);
    EXPECT_EQ(backoff_delay(5s, 1000, 60s), 60s);  // no overflow however long the streak
    EXPECT_EQ(backoff_delay(5s, 3, 24h), 20s);
}

TEST(WatchBackoff, JitterScalesToThreeQuartersOrMoreAndRespectsTheFloor) {
    EXPECT_EQ(jittered(40s, 0.0), 30s);
    EXPECT_EQ(jittered(40s, 1.0), 40s);
    EXPECT_EQ(jittered(40s, 0.5), 35s);
    EXPECT_EQ(jittered(5s, 0.0, 5s), 5s);
    EXPECT_EQ(jittered(5s, -3.0), 3750ms);  // out-of-range jitter is clamped
}

TEST(WatchBackoff, TheCapFollowsRefreshIntervalButNeverGoesUnderFiveSeconds) {
    EXPECT_EQ(watch_pacing_for(60s).max_delay, 60s);
    EXPECT_EQ(watch_pacing_for(1h).max_delay, 1h);
    EXPECT_EQ(watch_pacing_for(1s).max_delay, 5s);
    EXPECT_EQ(watch_pacing_for(1s).min_round_interval, 5s);
}

TEST(WatchPacer, TheFirstRoundRunsAtOnceThenAtMostOneInFiveSeconds) {
    WatchPacer pacer(watch_pacing_for(60s));
    const Clock::time_point start = Clock::now();
    EXPECT_LE(pacer.next_round_at(), start);
    pacer.round_finished(RoundOutcome::Published, start, 0.0);
    EXPECT_EQ(pacer.round_streak(), 0);
    EXPECT_EQ(pacer.next_round_at(), start + 5s);  // the floor, whatever the jitter
}

TEST(WatchPacer, FailingRoundsBackOffToRefreshInterval) {
    WatchPacer pacer(watch_pacing_for(60s));
    Clock::time_point now = Clock::now();
    std::vector<std::chrono::milliseconds> pauses;
    for (int i = 0; i < 7; ++i) {
        pacer.round_finished(RoundOutcome::Failed, now, 1.0);
        pauses.push_back(
            std::chrono::duration_cast<std::chrono::milliseconds>(pacer.next_round_at() - now));
        now = pacer.next_round_at();
    }
    const std::vector<std::chrono::milliseconds> expected = {10s, 20s, 40s, 60s, 60s, 60s, 60s};
    EXPECT_EQ(pauses, expected);
    EXPECT_EQ(pacer.round_streak(), 7);
    // Rounds that confirm nothing new count the same.
    WatchPacer unchanged(watch_pacing_for(60s));
    unchanged.round_finished(RoundOutcome::Unchanged, now, 1.0);
    EXPECT_EQ(unchanged.next_round_at() - now, 10s);
}

TEST(WatchPacer, PublishingAgainAndAgainIsChurnButARotationAfterQuietIsNot) {
    WatchPacer pacer(watch_pacing_for(60s));
    Clock::time_point now = Clock::now();
    pacer.round_finished(RoundOutcome::Published, now, 1.0);
    EXPECT_EQ(pacer.round_streak(), 0);
    // Two sets in turn: each round publishes as soon as it may.
    for (int i = 1; i <= 5; ++i) {
        now = pacer.next_round_at();
        pacer.round_finished(RoundOutcome::Published, now, 1.0);
        EXPECT_EQ(pacer.round_streak(), i);
    }
    EXPECT_EQ(pacer.round_delay(), 60s);
    // Ten minutes of quiet, then a rotation: calm again, and the next round may follow in 5 s.
    now += 10min;
    EXPECT_LE(pacer.next_round_at(), now);
    pacer.round_finished(RoundOutcome::Published, now, 1.0);
    EXPECT_EQ(pacer.round_streak(), 0);
    EXPECT_EQ(pacer.next_round_at(), now + 5s);
}

TEST(WatchPacer, TwoRotationsElevenSecondsApartAreBothCalm) {
    WatchPacer pacer(watch_pacing_for(60s));
    Clock::time_point now = Clock::now();
    pacer.round_finished(RoundOutcome::Published, now, 0.5);
    pacer.round_finished(RoundOutcome::Published, now + 11s, 0.5);
    EXPECT_EQ(pacer.round_streak(), 0);
}

TEST(WatchPacer, AQuickUnchangedAnswerIsFollowedLaterAndLater) {
    WatchPacer pacer(watch_pacing_for(60s));
    Clock::time_point now = Clock::now();
    std::vector<std::chrono::milliseconds> pauses;
    for (int i = 0; i < 8; ++i) {
        pacer.query_answered(/*indexed=*/true, /*changed=*/false, 3ms, now, 1.0);
        pauses.push_back(
            std::chrono::duration_cast<std::chrono::milliseconds>(pacer.next_query_at() - now));
        now = pacer.next_query_at();
    }
    const std::vector<std::chrono::milliseconds> expected = {1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s};
    EXPECT_EQ(pauses, expected);
    // A query that really blocked (or brought a change) is followed at once, and resets it.
    pacer.query_answered(true, false, 300s, now, 1.0);
    EXPECT_EQ(pacer.next_query_at(), now);
    pacer.query_answered(true, false, 3ms, now, 1.0);
    EXPECT_EQ(pacer.next_query_at(), now + 1s);
    pacer.query_answered(true, /*changed=*/true, 3ms, now, 1.0);
    EXPECT_EQ(pacer.next_query_at(), now);
}

TEST(WatchPacer, AnAnswerWithoutAnIndexRetriesTheBlockingQueryWithBackoff) {
    WatchPacer pacer(watch_pacing_for(60s));
    Clock::time_point now = Clock::now();
    pacer.query_answered(/*indexed=*/false, /*changed=*/false, 3ms, now, 1.0);
    EXPECT_EQ(pacer.next_query_at(), now + 5s);
    pacer.query_answered(false, false, 3ms, now, 1.0);
    EXPECT_EQ(pacer.next_query_at(), now + 10s);
    // An indexed answer: the watch is back.
    pacer.query_answered(true, false, 300s, now, 1.0);
    EXPECT_EQ(pacer.next_query_at(), now);
    pacer.query_answered(false, false, 3ms, now, 0.0);
    EXPECT_EQ(pacer.next_query_at(), now + 3750ms);
}

TEST(WatchPacer, FailedQueriesBackOffToAMinute) {
    WatchPacer pacer(watch_pacing_for(1h));
    Clock::time_point now = Clock::now();
    std::vector<std::chrono::milliseconds> pauses;
    for (int i = 0; i < 7; ++i) {
        pacer.query_failed(now, 1.0);
        pauses.push_back(
            std::chrono::duration_cast<std::chrono::milliseconds>(pacer.next_query_at() - now));
    }
    const std::vector<std::chrono::milliseconds> expected = {2s, 4s, 8s, 16s, 32s, 60s, 60s};
    EXPECT_EQ(pauses, expected);
    pacer.query_answered(true, false, 300s, now, 1.0);
    pacer.query_failed(now, 1.0);
    EXPECT_EQ(pacer.next_query_at(), now + 2s);
}

TEST(WatchPacer, OutcomesHaveStableNames) {
    EXPECT_STREQ(round_outcome_name(RoundOutcome::Failed), "failed");
    EXPECT_STREQ(round_outcome_name(RoundOutcome::Unchanged), "unchanged");
    EXPECT_STREQ(round_outcome_name(RoundOutcome::Published), "published");
}

}  // namespace
}  // namespace oidcgw
