// The fault matrix of the freshness issue, end to end: for every way an upstream (or the cache
// directory) can fail, the real gateway keeps running and keeps serving the last good pair byte
// for byte, records the reason in its log, in /status and in a metric, and recovers by itself
// once the upstream is healthy again.
//
// Each row starts a gateway (refresh_interval 1s, upstream_timeout 2s) against a healthy
// Nomad-shaped fake, waits until it is ready, injects the fault, waits for the reason in all
// three places, checks what is served, heals the upstream and waits for an "ok" newer than the
// fault. The shared set-up is in fault_matrix_fixture.h; a second upstream and the cache
// directory are in fault_matrix_cache_e2e_test.cc.
#include "fault_matrix_fixture.h"

#include <ostream>

namespace oidcgw::testing {
namespace {

// ---- One row of the matrix -----------------------------------------------------------------

class FaultMatrixUpstream;

struct FaultRow {
    std::string name;
    Failure failure = Failure::Fetch;
    std::string code;      // fetch error code or rejection code
    std::string document;  // "discovery" or "jwks": which fetch reports it
    std::function<void(FaultMatrixUpstream&)> inject;
    Heal heal = Heal::SameBytes;
    // Further checks on the /status entry that recorded the fault.
    std::function<void(FaultMatrixUpstream&, const nlohmann::json&)> also_check = nullptr;
    std::string never_public = "";  // part of the faulty answer that must not be served
    std::string secret = "";        // part of the faulty answer that must come out nowhere
    std::optional<std::size_t> max_document_bytes = std::nullopt;
};

void PrintTo(const FaultRow& row, std::ostream* out) {
    *out << row.name;
}

class FaultMatrixUpstream : public FaultMatrixBase, public ::testing::WithParamInterface<FaultRow> {
  public:
    // Mends the upstream; returns the JWKS it now serves.
    std::string heal(Heal how) {
        if (replaced_) replace_upstream(healthy_server_certificate(), healthy_upstream_ca());
        std::string jwks = jwks_;
        if (how == Heal::NewKeys) {
            rotated_key_ = generate_rsa_key();
            jwks = jwks_with({good_key(), nomad_rsa_jwk(rotated_key_.get(), kRotatedKid)});
        }
        serve_documents(jwks);
        return jwks;
    }

  private:
    EvpPkeyPtr rotated_key_;
};

// The recorded duration of a fetch cut by the 2s upstream_timeout: about 2000 ms, never the
// length of what the upstream would have taken.
void expect_cut_by_timeout(FaultMatrixUpstream&, const nlohmann::json& entry) {
    const long long duration = entry.value("duration_ms", -1LL);
    EXPECT_GE(duration, 1900) << entry.dump();
    EXPECT_LE(duration, 3500) << entry.dump();
}

std::function<void(FaultMatrixUpstream&, const nlohmann::json&)> detail_mentions(
    std::vector<std::string> fragments) {
    return [fragments](FaultMatrixUpstream&, const nlohmann::json& entry) {
        const std::string detail = entry.value("detail", "");
        for (const std::string& fragment : fragments) {
            EXPECT_NE(detail.find(fragment), std::string::npos)
                << "detail lacks \"" << fragment << "\": " << detail;
        }
    };
}

std::function<void(FaultMatrixUpstream&)> replace_jwks(
    std::function<std::string(std::string)> make) {
    return [make](FaultMatrixUpstream& test) {
        test.upstream().set_document(kJwksPath, make(test.good_key()));
    };
}

std::function<void(FaultMatrixUpstream&)> replace_discovery(
    std::function<std::string(const std::string& issuer)> make) {
    return [make](FaultMatrixUpstream& test) {
        test.upstream().set_document(kDiscoveryPath, make(test.issuer()));
    };
}

std::function<void(FaultMatrixUpstream&)> respond(const char* path, FakeResponse response) {
    return [path, response](FaultMatrixUpstream& test) {
        test.upstream().set_response(path, response);
    };
}

std::function<void(FaultMatrixUpstream&)> fault(const char* path, Fault fault) {
    return [path, fault](FaultMatrixUpstream& test) { test.upstream().set_fault(path, fault); };
}

// The upstream's port is taken over by a fake with this certificate (and client CA), serving
// good documents: only its TLS is wrong.
std::function<void(FaultMatrixUpstream&)> tls_upstream(
    std::function<IssuedFiles(FaultMatrixUpstream&)> certificate,
    std::function<std::string(FaultMatrixUpstream&)> client_ca) {
    return [certificate, client_ca](FaultMatrixUpstream& test) {
        test.replace_upstream(certificate(test), client_ca(test));
        test.serve_documents(test.good_jwks());
    };
}

// Nomad's discovery document with one member replaced.
std::string discovery_with(const std::string& issuer, const std::string& member,
                           const std::string& value) {
    auto document = nlohmann::ordered_json::parse(nomad_discovery_document(issuer));
    document[member] = value;
    return document.dump();
}

std::vector<FaultRow> fault_rows() {
    const auto nomad_ca = [](FaultMatrixUpstream& test) { return test.healthy_upstream_ca(); };
    return {
        // ---- Nothing answers, or an error answers ----
        {.name = "connection_refused",
         .failure = Failure::Fetch,
         .code = "connect",
         .document = "discovery",
         .inject = [](FaultMatrixUpstream& test) { test.stop_upstream(); }},
        {.name = "http_500_no_cluster_leader",
         .failure = Failure::Fetch,
         .code = "http_status",
         .document = "jwks",
         .inject = respond(kJwksPath, {500, "No cluster leader", "text/plain; charset=utf-8"}),
         .also_check = detail_mentions({"500", "No cluster leader"})},
        {.name = "http_404_discovery_disabled",
         .failure = Failure::Fetch,
         .code = "http_status",
         .document = "discovery",
         .inject = [](FaultMatrixUpstream& test) { test.upstream().remove(kDiscoveryPath); },
         .also_check = detail_mentions({"404", "OIDC Discovery endpoint disabled"})},
        {.name = "http_405",
         .failure = Failure::Fetch,
         .code = "http_status",
         .document = "jwks",
         .inject = respond(kJwksPath, {405, "Invalid method", "text/plain; charset=utf-8"}),
         .also_check = detail_mentions({"405"})},

        // ---- Slow or broken transfers ----
        {.name = "hangs_after_accepting",
         .failure = Failure::Fetch,
         .code = "timeout",
         .document = "discovery",
         .inject = fault(kDiscoveryPath, Fault::Hang),
         .also_check = expect_cut_by_timeout},
        {.name = "headers_then_stall",
         .failure = Failure::Fetch,
         .code = "timeout",
         .document = "jwks",
         .inject = fault(kJwksPath, Fault::StallAfterHeaders),
         .also_check = expect_cut_by_timeout},
        {.name = "drips_the_body",  // a byte every 200 ms: the whole JWKS would take over a minute
         .failure = Failure::Fetch,
         .code = "timeout",
         .document = "jwks",
         .inject = fault(kJwksPath, Fault::DripBody),
         .also_check = expect_cut_by_timeout},
        {.name = "closes_mid_body",
         .failure = Failure::Fetch,
         .code = "truncated",
         .document = "jwks",
         .inject = fault(kJwksPath, Fault::CloseMidBody)},
        {.name = "short_content_length",
         .failure = Failure::Fetch,
         .code = "truncated",
         .document = "discovery",
         .inject = fault(kDiscoveryPath, Fault::ShortContentLength)},

        // ---- Answers that are not the document ----
        {.name = "redirect_never_followed",
         .failure = Failure::Fetch,
         .code = "redirect",
         .document = "discovery",
         .inject =
             [](FaultMatrixUpstream& test) {
                 const std::string target = test.bystander()->base_url() + kDiscoveryPath;
                 test.upstream().set_response(
                     kDiscoveryPath, {302, "", "text/html; charset=utf-8", {{"Location", target}}});
             },
         .also_check =
             [](FaultMatrixUpstream& test, const nlohmann::json& entry) {
                 EXPECT_NE(entry.value("detail", "").find("302"), std::string::npos);
                 EXPECT_EQ(test.bystander()->request_count(kDiscoveryPath), 0);
                 EXPECT_EQ(test.bystander()->request_count(kJwksPath), 0);
             }},
        {.name = "html_instead_of_json",
         .failure = Failure::Rejection,
         .code = "invalid_json",
         .document = "discovery",
         .inject =
             respond(kDiscoveryPath, {200,
                                      "<!DOCTYPE html><html><head><title>Sign in</title></head>"
                                      "<body>corporate proxy login</body></html>",
                                      "text/html; charset=utf-8"}),
         .never_public = "corporate proxy login"},
        {.name = "invalid_json",
         .failure = Failure::Rejection,
         .code = "invalid_json",
         .document = "jwks",
         .inject = replace_jwks([](const std::string& key) { return "{\"keys\":[" + key; }),
         .heal = Heal::NewKeys},
        {.name = "jwks_with_byte_order_mark",  // JSON.parse, json.loads, Go refuse it
         .failure = Failure::Rejection,
         .code = "byte_order_mark",
         .document = "jwks",
         .inject = replace_jwks([](const std::string& key) {
             auto marked = nlohmann::ordered_json::parse(key);
             marked["kid"] = "marked-4e1b0c9d-key";
             return "\xEF\xBB\xBF" + jwks_with({key, marked.dump()});
         }),
         .heal = Heal::NewKeys,
         .never_public = "marked-4e1b0c9d-key"},
        {.name = "discovery_with_byte_order_mark",
         .failure = Failure::Rejection,
         .code = "byte_order_mark",
         .document = "discovery",
         .inject = replace_discovery([](const std::string& issuer) {
             return "\xEF\xBB\xBF" + nomad_discovery_document(issuer);
         }),
         .never_public = "\xEF\xBB\xBF"},
        {.name = "wrong_shape_array",
         .failure = Failure::Rejection,
         .code = "not_an_object",
         .document = "jwks",
         .inject = replace_jwks([](const std::string&) { return "[]"; }),
         .heal = Heal::NewKeys},
        {.name = "wrong_shape_keys_not_an_array",
         .failure = Failure::Rejection,
         .code = "wrong_type",
         .document = "jwks",
         .inject = replace_jwks([](const std::string&) { return R"({"keys":"x"})"; }),
         .heal = Heal::NewKeys},
        {.name = "body_over_the_cap",
         .failure = Failure::Fetch,
         .code = "too_large",
         .document = "jwks",
         .inject = replace_jwks([](const std::string& key) {
             return "{\"keys\":[" + key + std::string(1 << 20, ' ') + "]}";
         }),
         .also_check =
             [](FaultMatrixUpstream&, const nlohmann::json& entry) {
                 // Cut at the cap, not waited out.
                 EXPECT_LT(entry.value("duration_ms", -1LL), 1900) << entry.dump();
             },
         .max_document_bytes = 65536},
        {.name = "gzip_although_identity_was_asked",
         .failure = Failure::Fetch,
         .code = "content_encoding",
         .document = "jwks",
         .inject =
             [](FaultMatrixUpstream& test) {
                 FakeResponse gzipped;
                 gzipped.body = test.good_jwks();
                 gzipped.gzip_body = true;
                 test.upstream().set_response(kJwksPath, gzipped);
             },
         .also_check = detail_mentions({"gzip"})},

        // ---- Discovery documents that lie ----
        {.name = "discovery_for_another_issuer",
         .failure = Failure::Rejection,
         .code = "issuer_mismatch",
         .document = "discovery",
         .inject = replace_discovery(
             [](const std::string&) { return nomad_discovery_document("https://elsewhere.test"); }),
         .never_public = "elsewhere.test"},
        {.name = "issuer_with_trailing_slash",
         .failure = Failure::Rejection,
         .code = "issuer_mismatch",
         .document = "discovery",
         .inject = replace_discovery(
             [](const std::string& issuer) { return nomad_discovery_document(issuer + "/"); }),
         .also_check = detail_mentions({"trailing slash"})},
        {.name = "jwks_uri_on_another_host",
         .failure = Failure::Rejection,
         .code = "bad_jwks_uri",
         .document = "discovery",
         .inject = replace_discovery([](const std::string& issuer) {
             return discovery_with(issuer, "jwks_uri", "https://keys.attacker.test/jwks.json");
         }),
         .never_public = "attacker.test"},

        // ---- Key sets that must not be published ----
        {.name = "private_member_in_one_key",
         .failure = Failure::Rejection,
         .code = "private_key_material",
         .document = "jwks",
         .inject = replace_jwks([](const std::string& key) {
             auto leaky = nlohmann::ordered_json::parse(key);
             leaky["kid"] = kLeakyKid;
             leaky["d"] = kSecret;
             return jwks_with({key, leaky.dump()});
         }),
         .heal = Heal::NewKeys,
         .never_public = kLeakyKid,
         .secret = kSecret},
        {.name = "symmetric_key_with_secret",
         .failure = Failure::Rejection,
         .code = "private_key_material",
         .document = "jwks",
         .inject = replace_jwks([](const std::string& key) {
             return jwks_with({key, std::string(R"({"kty":"oct","kid":")") + kLeakyKid +
                                        R"(","k":")" + kSecret + "\"}"});
         }),
         .heal = Heal::NewKeys,
         .never_public = kLeakyKid,
         .secret = kSecret},
        {.name = "symmetric_key_without_secret",
         .failure = Failure::Rejection,
         .code = "symmetric_key",
         .document = "jwks",
         .inject = replace_jwks([](const std::string& key) {
             return jwks_with({key, std::string(R"({"kty":"oct","kid":")") + kLeakyKid + "\"}"});
         }),
         .heal = Heal::NewKeys,
         .never_public = kLeakyKid},
        {.name = "duplicate_kids",
         .failure = Failure::Rejection,
         .code = "duplicate_kid",
         .document = "jwks",
         .inject = replace_jwks([](const std::string& key) {
             EvpPkeyPtr other = generate_rsa_key();
             return jwks_with({key, nomad_rsa_jwk(other.get(), kKid)});
         }),
         .heal = Heal::NewKeys},
        {.name = "empty_key_set",
         .failure = Failure::Rejection,
         .code = "empty_key_set",
         .document = "jwks",
         .inject = replace_jwks([](const std::string&) { return R"({"keys":[]})"; }),
         .heal = Heal::NewKeys},
        {.name = "key_material_not_base64url",
         .failure = Failure::Rejection,
         .code = "bad_key_member",
         .document = "jwks",
         .inject = replace_jwks([](const std::string& key) {
             auto broken = nlohmann::ordered_json::parse(key);
             broken["kid"] = kLeakyKid;
             broken["n"] = "not+base64/url==";
             return jwks_with({key, broken.dump()});
         }),
         .heal = Heal::NewKeys,
         .never_public = kLeakyKid},

        // ---- TLS ----
        {.name = "certificate_from_another_ca",
         .failure = Failure::Fetch,
         .code = "tls",
         .document = "discovery",
         .inject = tls_upstream(
             [](FaultMatrixUpstream& test) {
                 return test.foreign_pki().issue({.common_name = "server.global.nomad",
                                                  .dns_names = {"server.global.nomad"},
                                                  .ip_addresses = {"127.0.0.1"}});
             },
             nomad_ca)},
        {.name = "right_ca_wrong_name",
         .failure = Failure::Fetch,
         .code = "tls",
         .document = "discovery",
         .inject = tls_upstream(
             [](FaultMatrixUpstream& test) {
                 return test.nomad_certificate({.common_name = "client.global.nomad",
                                                .dns_names = {"client.global.nomad", "localhost"},
                                                .ip_addresses = {"127.0.0.1"}});
             },
             nomad_ca)},
        {.name = "client_certificate_refused",
         .failure = Failure::Fetch,
         .code = "tls",
         .document = "discovery",
         .inject = tls_upstream(
             [](FaultMatrixUpstream& test) { return test.healthy_server_certificate(); },
             [](FaultMatrixUpstream& test) { return test.foreign_pki().ca_file(); })},
        {.name = "expired_certificate",
         .failure = Failure::Fetch,
         .code = "tls",
         .document = "discovery",
         .inject = tls_upstream(
             [](FaultMatrixUpstream& test) {
                 return test.nomad_certificate({.common_name = "expired-server",
                                                .dns_names = {"server.global.nomad"},
                                                .ip_addresses = {"127.0.0.1"},
                                                .valid_from_offset_seconds = -3L * 24 * 3600,
                                                .valid_for_seconds = -24L * 3600});
             },
             nomad_ca)},
    };
}

TEST_P(FaultMatrixUpstream, RecordedWhileTheLastGoodPairIsServedThenRecovered) {
    const FaultRow& row = GetParam();
    nlohmann::json config = base_config({nomad_->base_url()});
    if (row.max_document_bytes) config["max_document_bytes"] = *row.max_document_bytes;
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string upstream_url = nomad_->base_url();
    nlohmann::json healthy;
    ASSERT_NO_FATAL_FAILURE(wait_upstream_result(upstream_url, "ok", &healthy));
    const Served before = served();
    ASSERT_EQ(before.discovery.status, 200);
    ASSERT_EQ(before.discovery.body, nomad_discovery_document(issuer_));
    ASSERT_EQ(before.jwks.status, 200);
    ASSERT_EQ(before.jwks.body, jwks_);

    ASSERT_NO_FATAL_FAILURE(row.inject(*this));

    // The reason, in the log...
    const bool fetch = row.failure == Failure::Fetch;
    const std::vector<std::string> log_fragments = {
        field("event", fetch ? "upstream_fetch_failed" : "document_rejected"),
        field("upstream", upstream_url), field("document", row.document),
        field("reason", row.code)};
    ASSERT_TRUE(wait_until([&] { return log_line_with(log_fragments); }, kBound))
        << "no log line with " << ::testing::PrintToString(log_fragments) << ":\n"
        << gateway_->log();
    // ...in the metrics...
    const std::map<std::string, std::string> labels =
        fetch ? std::map<std::string, std::string>{{"issuer", issuer_},
                                                   {"upstream", upstream_url},
                                                   {"document", row.document},
                                                   {"result", row.code}}
              : std::map<std::string, std::string>{
                    {"issuer", issuer_}, {"document", row.document}, {"reason", row.code}};
    const std::string family =
        fetch ? "oidc_gateway_upstream_fetches_total" : "oidc_gateway_documents_rejected_total";
    ASSERT_TRUE(wait_until([&] { return metric(family, labels).value_or(0) >= 1; }, kBound))
        << family << " " << ::testing::PrintToString(labels) << " never counted:\n"
        << health("/metrics").body;
    // ...and in /status.
    nlohmann::json recorded;
    ASSERT_NO_FATAL_FAILURE(wait_upstream_result(upstream_url, row.code, &recorded));
    EXPECT_FALSE(recorded.value("detail", "").empty()) << recorded.dump();
    EXPECT_GE(recorded.value("time", ""), healthy.value("time", "")) << recorded.dump();
    EXPECT_TRUE(wait_until(
        [&] { return issuer_status().value("last_error", "").find(row.code) != std::string::npos; },
        kBound))
        << "last_error does not name " << row.code << ":\n"
        << health("/status").body;
    if (!fetch) {
        const nlohmann::json issuer = issuer_status();
        EXPECT_NE(issuer["last_rejection"].value("detail", "").find(row.code), std::string::npos)
            << issuer.dump(2);
    }

    // Nothing changed for relying parties.
    expect_still_serving(before);
    expect_not_public(row.never_public);
    if (!row.secret.empty()) expect_nowhere(row.secret);
    if (row.also_check) row.also_check(*this, recorded);

    // Healed, the upstream is used again by itself.
    const std::string healed_jwks = heal(row.heal);
    bool only_good_pairs_served = true;
    nlohmann::json recovered;
    ASSERT_NO_FATAL_FAILURE(
        wait_upstream_result(upstream_url, "ok", &recovered, [&](const nlohmann::json& entry) {
            const HttpResponse jwks = get(kJwksPath);
            only_good_pairs_served = only_good_pairs_served && jwks.status == 200 &&
                                     (jwks.body == before.jwks.body || jwks.body == healed_jwks);
            return entry.value("time", "") > healthy.value("time", "") &&
                   entry.value("time", "") >= recorded.value("time", "");
        }));
    EXPECT_TRUE(only_good_pairs_served);
    EXPECT_TRUE(
        wait_until([&] { return issuer_status().value("last_error", "x").empty(); }, kBound))
        << health("/status").body;
    EXPECT_EQ(health("/readyz").status, 200);
    if (row.heal == Heal::SameBytes) {
        expect_still_serving(before);  // same bytes: same ETags, no churn
    } else {
        EXPECT_TRUE(wait_until([&] { return get(kJwksPath).body == healed_jwks; }, kBound))
            << gateway_->log();
        const Served after = served();
        EXPECT_NE(after.jwks.header("etag"), before.jwks.header("etag"));
        EXPECT_EQ(after.discovery.body, before.discovery.body);
        EXPECT_EQ(after.discovery.header("etag"), before.discovery.header("etag"));
    }
    expect_not_public(row.never_public);
    if (!row.secret.empty()) expect_nowhere(row.secret);
    expect_clean_exit();
}

INSTANTIATE_TEST_SUITE_P(FaultMatrix, FaultMatrixUpstream, ::testing::ValuesIn(fault_rows()),
                         [](const ::testing::TestParamInfo<FaultRow>& param_info) {
                             return param_info.param.name;
                         });

}  // namespace
}  // namespace oidcgw::testing
