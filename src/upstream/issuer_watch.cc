// The JWKS watch of IssuerRefresher (see issuer_refresher.h): Nomad's blocking query on the
// published JWKS path, a refresh round when the answer differs from what is published, and the
// pacing (watch_pacer.h) that keeps a hostile or broken upstream from turning it into a busy loop.
#include "upstream/issuer_refresher.h"

#include <algorithm>
#include <ctime>

namespace oidcgw {

IssuerRefresher::WatchTarget IssuerRefresher::watch_target() const {
    WatchTarget target;
    const auto publication = context_.snapshot.load();
    for (const IssuerSlot& slot : publication->issuers) {
        if (slot.issuer.text == issuer_.issuer.text && slot.published) {
            target.path = slot.published->documents.discovery.jwks_upstream_path;
            target.published_jwks = slot.published->documents.jwks_body;
        }
    }
    return target;
}

RoundOutcome IssuerRefresher::run_round_for_watch(std::size_t upstream_index) {
    std::unique_lock lock(wake_mutex_);
    preferred_upstream_ = upstream_index;
    const std::uint64_t ticket = ++rounds_requested_;
    wake_.notify_all();
    wake_.wait(lock, [&] { return stopping_.load() || rounds_served_ >= ticket; });
    return stopping_ ? RoundOutcome::Failed : served_outcome_;
}

void IssuerRefresher::set_watch_state(const std::string& state, const std::string& upstream,
                                      const std::string& detail) {
    context_.status.modify(issuer_.issuer.text, [&](IssuerStatus& status) {
        if (status.watch.state != state) status.watch.since = std::time(nullptr);
        status.watch.state = state;
        status.watch.upstream = upstream;
        status.watch.detail = detail;
    });
}

void IssuerRefresher::watch() {
    using namespace std::chrono;
    WatchPacer pacer(watch_pacing_for(settings_.refresh_interval));
    std::mt19937_64 random(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    std::uint64_t index = 0;
    std::string state = "starting";
    const long long wait_seconds =
        std::max<long long>(1, duration_cast<seconds>(settings_.watch_wait).count());
    const auto log_fields = [&](const UpstreamUrl& upstream) {
        return nlohmann::json{{"issuer", issuer_.issuer.text}, {"upstream", upstream.text}};
    };
    while (!stopping_) {
        const WatchTarget target = watch_target();
        if (target.path.empty()) {  // nothing published yet: the refresher is busy
            sleep_unless_stopping(seconds(1));
            continue;
        }
        if (!sleep_until_unless_stopping(pacer.next_query_at())) break;
        const std::size_t upstream_index = preferred_upstream_.load() % issuer_.upstreams.size();
        const UpstreamUrl& upstream = issuer_.upstreams[upstream_index];
        const std::string query = target.path + "?index=" + std::to_string(index) +
                                  "&wait=" + std::to_string(wait_seconds) + "s";
        const auto started = steady_clock::now();
        FetchResult fetched = watch_client_.get(upstream, query, stopping_,
                                                settings_.watch_wait + settings_.upstream_timeout);
        if (stopping_) break;
        const auto now = steady_clock::now();
        if (!fetched.ok) {
            // The refresh rounds still poll; the watch retries with capped, jittered backoff.
            pacer.query_failed(now, jitter(random));
            index = 0;
            state = "failing";
            set_watch_state(state, upstream.text, fetched.error_code + ": " + fetched.error);
            nlohmann::json fields = log_fields(upstream);
            fields["reason"] = fetched.error_code;
            fields["detail"] = fetched.error;
            context_.logger.debug("watch_failed", fields);
            continue;
        }
        const bool changed = fetched.body != target.published_jwks;
        pacer.query_answered(fetched.nomad_index.has_value(), changed,
                             duration_cast<milliseconds>(now - started), now, jitter(random));
        if (!fetched.nomad_index) {
            // Not a blocking answer: compared as a poll, and the blocking query tried again
            // later (a proxy that dropped the header once must not end the watch for good).
            index = 0;
            if (state != "polling") {
                nlohmann::json fields = log_fields(upstream);
                fields["detail"] =
                    "no X-Nomad-Index: the answer is compared as a poll and the blocking query "
                    "retried with backoff";
                context_.logger.info("watch_unsupported", fields);
            }
            state = "polling";
            set_watch_state(state, upstream.text, "the last answer had no X-Nomad-Index");
        } else {
            if (state == "polling" || state == "failing") {
                context_.logger.info("watch_resumed", log_fields(upstream));
            }
            state = "watching";
            set_watch_state(state, upstream.text, "");
            // An index that went backwards (a restored or new cluster) starts the watch afresh.
            index = *fetched.nomad_index >= index ? *fetched.nomad_index : 0;
        }
        if (!changed) continue;

        nlohmann::json fields = log_fields(upstream);
        fields["index"] = fetched.nomad_index.value_or(0);
        context_.logger.info("watch_change", fields);
        // At most one watch-triggered round per pause; a poll may have published it meanwhile.
        if (!sleep_until_unless_stopping(pacer.next_round_at())) break;
        if (watch_target().published_jwks == fetched.body) continue;
        const RoundOutcome outcome = run_round_for_watch(upstream_index);
        if (stopping_) break;
        const int streak_before = pacer.round_streak();
        pacer.round_finished(outcome, steady_clock::now(), jitter(random));
        context_.metrics
            .counter("oidc_gateway_watch_rounds_total",
                     "Refresh rounds the JWKS watch triggered, by issuer and result.",
                     {{"issuer", issuer_.issuer.text}, {"result", round_outcome_name(outcome)}})
            .increment();
        const long long backoff_ms = pacer.round_delay().count();
        context_.status.modify(issuer_.issuer.text, [&](IssuerStatus& status) {
            status.watch.round_backoff_ms = backoff_ms;
        });
        if (streak_before == 0 && pacer.round_streak() > 0) {
            nlohmann::json throttled = log_fields(upstream);
            throttled["result"] = round_outcome_name(outcome);
            throttled["backoff_ms"] = backoff_ms;
            throttled["detail"] =
                "the rounds the watch triggers fail, find nothing new, or the upstream keeps "
                "changing: they are spaced out, up to refresh_interval apart, until a change "
                "comes after a quiet spell";
            context_.logger.warn("watch_throttled", throttled);
        }
    }
}

}  // namespace oidcgw
