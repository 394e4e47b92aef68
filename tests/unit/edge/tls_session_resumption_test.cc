// Session resumption on the public TLS context: TLS 1.3 and 1.2 tickets under the gateway's
// keys (across rebuilt contexts, rotation, never across certificate groups), resumption off, and
// the TLS 1.2 session cache.
#include "tls_handshake_support.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace oidcgw::testing {
namespace {

TEST_F(TlsServerContextTest, SendsOneTicketPerTls13Handshake) {
    const IssuedFiles certificate = issue("tickets", {"tickets.test"});
    SharedSslCtx context = build({files(certificate)});
    ASSERT_TRUE(context);
    ClientOptions options = client_options("tickets.test");
    const HandshakeResult result = handshake(context.get(), options);
    ASSERT_TRUE(result.completed) << result.failure;
    EXPECT_EQ(result.tickets_received, 1);
    EXPECT_EQ(ticket_keys_->keys_made(), 1u);
}

TEST_F(TlsServerContextTest, ResumptionOffIssuesNoTicketAndResumesNothing) {
    const IssuedFiles certificate = issue("no-resume", {"no-resume.test"});
    SharedSslCtx with = build({files(certificate)});
    SharedSslCtx without =
        build({files(certificate)}, PublicTlsProfile(TlsMinVersion::Tls12, false));
    ASSERT_TRUE(with && without);
    for (const int max_version : kTls13AndTls12) {
        const std::string label = version_label(max_version);
        ClientOptions options = client_options("no-resume.test", max_version);
        const HandshakeResult first = handshake(without.get(), options);
        ASSERT_TRUE(first.completed) << label << ": " << first.failure;
        EXPECT_EQ(first.tickets_received, 0) << label;
        // A session the same keys would resume elsewhere is not resumed here.
        const HandshakeResult offered = handshake(with.get(), options);
        ASSERT_TRUE(offered.session) << label;
        options.resume = offered.session.get();
        const HandshakeResult again = handshake(without.get(), options);
        ASSERT_TRUE(again.completed) << label << ": " << again.failure;
        EXPECT_FALSE(again.reused) << label;
        EXPECT_TRUE(handshake(with.get(), options).reused) << label;
    }
    EXPECT_EQ(SSL_CTX_sess_number(without.get()), 0);
}

// TLS 1.3 tickets are single-use: each resumption must hand out the next ticket, so a client
// that reconnects again and again resumes every time.
TEST_F(TlsServerContextTest, EveryTls13ResumptionIssuesTheNextTicket) {
    const IssuedFiles certificate = issue("chain", {"chain.test"});
    SharedSslCtx context = build({files(certificate)});
    ASSERT_TRUE(context);
    ClientOptions options = client_options("chain.test");
    HandshakeResult previous = handshake(context.get(), options);
    ASSERT_TRUE(previous.completed) << previous.failure;
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(previous.session) << round;
        options.resume = previous.session.get();
        HandshakeResult next = handshake(context.get(), options);
        ASSERT_TRUE(next.completed) << round << ": " << next.failure;
        EXPECT_TRUE(next.reused) << round;
        EXPECT_EQ(next.tickets_received, 1) << round;
        previous = std::move(next);
    }
}

// As after a reload: the session from one context resumes on another built with the same keys,
// and not on one built with other keys.
TEST_F(TlsServerContextTest, TicketsResumeAcrossContextsSharingTheirKeys) {
    const IssuedFiles certificate = issue("resume", {"resume.test"});
    const IssuedFiles other = issue("resume-other", {"other.test"});
    const std::vector<CertificateFiles> certificates = {files(certificate), files(other)};
    SharedSslCtx before = build(certificates);
    SharedSslCtx after_reload = build(certificates);
    SharedSslCtx other_keys =
        build(certificates, TlsMinVersion::Tls12, std::make_shared<SessionTicketKeys>());
    ASSERT_TRUE(before && after_reload && other_keys);

    for (const int max_version : kTls13AndTls12) {
        for (const std::string sni : {"resume.test", "other.test"}) {
            const std::string label = sni + " " + version_label(max_version);
            ClientOptions options = client_options(sni, max_version);
            const HandshakeResult first = handshake(before.get(), options);
            ASSERT_TRUE(first.completed) << label << ": " << first.failure;
            ASSERT_TRUE(first.session) << label;
            ASSERT_EQ(SSL_SESSION_is_resumable(first.session.get()), 1) << label;
            EXPECT_FALSE(first.reused) << label;

            options.resume = first.session.get();
            const HandshakeResult resumed = handshake(after_reload.get(), options);
            ASSERT_TRUE(resumed.completed) << label << ": " << resumed.failure;
            EXPECT_TRUE(resumed.reused) << label;

            const HandshakeResult foreign = handshake(other_keys.get(), options);
            ASSERT_TRUE(foreign.completed) << label << ": " << foreign.failure;
            EXPECT_FALSE(foreign.reused) << label;
        }
    }
}

// RFC 6066 section 3: a session made for one name must not resume under a name that selects
// another certificate, by TLS 1.3 ticket, TLS 1.2 ticket or TLS 1.2 session ID alike.
TEST_F(TlsServerContextTest, ASessionNeverResumesUnderANameOfAnotherCertificateGroup) {
    const IssuedFiles main_certificate = issue("main", {"localhost", "main.test"});
    const IssuedFiles other = issue("other", {"other.test"});
    SharedSslCtx context = build({files(main_certificate), files(other)});
    ASSERT_TRUE(context);
    struct Case {
        const char* label;
        int max_version;
        bool no_tickets;
    };
    for (const Case& shape :
         {Case{"TLS 1.3 ticket", 0, false}, Case{"TLS 1.2 ticket", TLS1_2_VERSION, false},
          Case{"TLS 1.2 session ID", TLS1_2_VERSION, true}}) {
        for (const auto& [made_for, tried_as] :
             {std::pair<std::string, std::string>{"other.test", "localhost"},
              {"localhost", "other.test"},
              {"", "other.test"}}) {
            const std::string label =
                std::string(shape.label) + " made for '" + made_for + "', tried as " + tried_as;
            ClientOptions options = client_options(made_for);
            options.max_version = shape.max_version;
            options.no_tickets = shape.no_tickets;
            const HandshakeResult first = handshake(context.get(), options);
            ASSERT_TRUE(first.completed) << label << ": " << first.failure;
            ASSERT_TRUE(first.session) << label;

            options.resume = first.session.get();
            const HandshakeResult same_name = handshake(context.get(), options);
            ASSERT_TRUE(same_name.completed) << label << ": " << same_name.failure;
            EXPECT_TRUE(same_name.reused) << label << " (the same name resumes)";

            options.sni = tried_as;
            const HandshakeResult other_name = handshake(context.get(), options);
            ASSERT_TRUE(other_name.completed) << label << ": " << other_name.failure;
            EXPECT_FALSE(other_name.reused) << label;
            EXPECT_EQ(other_name.peer_common_name, tried_as == "other.test" ? "other" : "main")
                << label;
        }
    }
}

TEST_F(TlsServerContextTest, Tls12ClientsWithoutTicketsResumeFromTheSessionCache) {
    const IssuedFiles certificate = issue("cache", {"cache.test"});
    SharedSslCtx context = build({files(certificate)});
    ASSERT_TRUE(context);
    ClientOptions options = client_options("cache.test");
    options.max_version = TLS1_2_VERSION;
    options.no_tickets = true;
    const HandshakeResult first = handshake(context.get(), options);
    ASSERT_TRUE(first.completed) << first.failure;
    ASSERT_TRUE(first.session);
    EXPECT_EQ(SSL_CTX_sess_number(context.get()), 1);
    EXPECT_EQ(SSL_CTX_sess_get_cache_size(context.get()), kTls12SessionCacheSize);
    EXPECT_EQ(ticket_keys_->keys_made(), 0u);  // no ticket was involved

    options.resume = first.session.get();
    const HandshakeResult resumed = handshake(context.get(), options);
    ASSERT_TRUE(resumed.completed) << resumed.failure;
    EXPECT_TRUE(resumed.reused);

    // The cache belongs to one context: a rebuilt one starts empty.
    SharedSslCtx rebuilt = build({files(certificate)});
    const HandshakeResult after_reload = handshake(rebuilt.get(), options);
    ASSERT_TRUE(after_reload.completed) << after_reload.failure;
    EXPECT_FALSE(after_reload.reused);
}

TEST_F(TlsServerContextTest, TicketKeysRotateAndThePreviousKeyStillResumes) {
    const auto start = std::chrono::steady_clock::now();
    std::atomic<long> elapsed_seconds{0};
    auto keys = std::make_shared<SessionTicketKeys>(
        std::chrono::hours(12), [&] { return start + std::chrono::seconds(elapsed_seconds); });
    const IssuedFiles certificate = issue("rotate", {"rotate.test"});
    SharedSslCtx context = build({files(certificate)}, TlsMinVersion::Tls12, keys);
    ASSERT_TRUE(context);

    for (const int max_version : kTls13AndTls12) {
        const std::string label = version_label(max_version);
        ClientOptions options = client_options("rotate.test", max_version);
        const HandshakeResult first = handshake(context.get(), options);
        ASSERT_TRUE(first.completed) << label << ": " << first.failure;
        const std::uint64_t made = keys->keys_made();

        elapsed_seconds += 12 * 3600 + 1;  // the ticket's key is now the previous one
        options.resume = first.session.get();
        const HandshakeResult second = handshake(context.get(), options);
        ASSERT_TRUE(second.completed) << label << ": " << second.failure;
        EXPECT_TRUE(second.reused) << label;
        EXPECT_EQ(keys->keys_made(), made + 1) << label;
        // Renewed under the current key.
        ASSERT_TRUE(second.session) << label;
        EXPECT_NE(ticket_of(second.session.get()), ticket_of(first.session.get())) << label;

        elapsed_seconds += 12 * 3600 + 1;  // and now retired
        const HandshakeResult third = handshake(context.get(), options);
        ASSERT_TRUE(third.completed) << label << ": " << third.failure;
        EXPECT_FALSE(third.reused) << label;

        // The ticket renewed at the second handshake is under the now previous key: resumes.
        options.resume = second.session.get();
        const HandshakeResult renewed = handshake(context.get(), options);
        ASSERT_TRUE(renewed.completed) << label << ": " << renewed.failure;
        EXPECT_TRUE(renewed.reused) << label;
    }
}

}  // namespace
}  // namespace oidcgw::testing
