// End-to-end TLS on the public side: the real gateway with several certificates (two names, and
// an RSA + ECDSA pair for one of them), probed with raw OpenSSL clients that choose SNI, versions,
// signature algorithms and ciphers; tls.min_version; session tickets across a reload.
#include "common/raii.h"
#include "gateway_fixture.h"
#include "prometheus_text.h"
#include "tls_test_support.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace oidcgw::testing {
namespace {

using SslSessionPtr = std::unique_ptr<SSL_SESSION, CDeleter<SSL_SESSION_free>>;

constexpr const char* kRsaOnlySignatureAlgorithms = "RSA+SHA256:RSA-PSS+SHA256";

struct ProbeOptions {
    std::string sni{};    // empty: none
    bool verify = false;  // check the chain against the public CA and the SNI name
    int min_version = 0;  // 0: OpenSSL's configured minimum
    int max_version = 0;  // 0: TLS 1.3
    std::string signature_algorithms{};
    std::string tls12_ciphers{};
    bool no_tickets = false;  // resumption by session ID only (TLS 1.2)
    SSL_SESSION* resume = nullptr;
    std::string request{};  // sent after the handshake; the answer is read until close
};

struct ProbeResult {
    bool connected = false;
    std::string error{};
    std::string peer_common_name{};
    int peer_key_type = 0;
    int version = 0;
    bool reused = false;
    std::string response{};
    SslSessionPtr session{};
};

// Writes to a connection the gateway closed would raise SIGPIPE: blocked on this thread for the
// probe, and any instance it caused is consumed before the mask is restored.
class BlockSigpipe {
  public:
    BlockSigpipe() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &set, &previous_);
    }
    ~BlockSigpipe() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE) == 1) {
            const timespec no_wait{0, 0};
            while (sigtimedwait(&set, nullptr, &no_wait) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    }
    BlockSigpipe(const BlockSigpipe&) = delete;
    BlockSigpipe& operator=(const BlockSigpipe&) = delete;

  private:
    sigset_t previous_{};
};

// Client side: the newest session the server handed out (TLS 1.3 tickets follow the handshake).
int keep_new_session(SSL* ssl, SSL_SESSION* session) {
    static_cast<ProbeResult*>(SSL_get_app_data(ssl))->session.reset(session);
    return 1;
}

// One blocking TLS connection to 127.0.0.1:port; every socket wait is capped at 5 s
// (SO_RCVTIMEO/SO_SNDTIMEO, which also bound connect on Linux).
ProbeResult probe(std::uint16_t port, const std::string& ca_file, const ProbeOptions& options) {
    ProbeResult result;
    const BlockSigpipe sigpipe_blocked;
    SslCtxPtr context = new_test_client_context(options.min_version, options.max_version,
                                                options.no_tickets, keep_new_session);
    if (!options.signature_algorithms.empty() &&
        SSL_CTX_set1_sigalgs_list(context.get(), options.signature_algorithms.c_str()) != 1) {
        result.error = "bad signature algorithms: " + take_openssl_errors();
        return result;
    }
    if (!options.tls12_ciphers.empty() &&
        SSL_CTX_set_cipher_list(context.get(), options.tls12_ciphers.c_str()) != 1) {
        result.error = "bad cipher list: " + take_openssl_errors();
        return result;
    }
    if (options.verify) {
        SSL_CTX_load_verify_locations(context.get(), ca_file.c_str(), nullptr);
        SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    }

    const UniqueFd socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const timeval timeout{5, 0};
    ::setsockopt(socket_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(socket_fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) !=
        0) {
        result.error = std::string("connect: ") + std::strerror(errno);
        return result;
    }

    SslPtr ssl(SSL_new(context.get()));
    SSL_set_app_data(ssl.get(), &result);
    SSL_set_fd(ssl.get(), socket_fd.get());
    if (!options.sni.empty()) SSL_set_tlsext_host_name(ssl.get(), options.sni.c_str());
    if (options.verify) SSL_set1_host(ssl.get(), options.sni.c_str());
    // A copy: OpenSSL clients use a TLS 1.3 session once, and tests resume one session twice.
    const SslSessionPtr resume(options.resume != nullptr ? SSL_SESSION_dup(options.resume)
                                                         : nullptr);
    if (resume) SSL_set_session(ssl.get(), resume.get());
    ERR_clear_error();
    if (SSL_connect(ssl.get()) != 1) {
        result.error = "handshake: " + take_openssl_errors();
        SSL_set_app_data(ssl.get(), nullptr);
        return result;
    }
    result.connected = true;
    if (X509* peer = SSL_get0_peer_certificate(ssl.get())) {
        char name[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof name);
        result.peer_common_name = name;
        result.peer_key_type = EVP_PKEY_get_base_id(X509_get0_pubkey(peer));
    }
    result.version = SSL_version(ssl.get());
    result.reused = SSL_session_reused(ssl.get()) == 1;

    if (!options.request.empty()) {
        SSL_write(ssl.get(), options.request.data(), static_cast<int>(options.request.size()));
        char buffer[4096];
        // Bounded: at most 64 KiB, and each read by the socket timeout.
        while (result.response.size() < 65536) {
            const int got = SSL_read(ssl.get(), buffer, sizeof buffer);
            if (got <= 0) break;
            result.response.append(buffer, static_cast<std::size_t>(got));
        }
        ERR_clear_error();
    }
    // A clean close keeps the session resumable on both ends.
    SSL_shutdown(ssl.get());
    if (!result.session) result.session.reset(SSL_get1_session(ssl.get()));
    SSL_set_app_data(ssl.get(), nullptr);
    return result;
}

class TlsE2E : public GatewayE2E {
  protected:
    void SetUp() override {
        GatewayE2E::SetUp();
        // public_certificate_ (ECDSA, kPublicHost) stays first: the fallback.
        rsa_certificate_ = public_pki_->issue({.common_name = "rsa.oidc.test",
                                               .dns_names = {kPublicHost},
                                               .ip_addresses = {},
                                               .key_type = KeyType::Rsa2048,
                                               .include_intermediate = true});
        wildcard_certificate_ = public_pki_->issue({.common_name = "wildcard.alt.test",
                                                    .dns_names = {"*.alt.test"},
                                                    .ip_addresses = {},
                                                    .include_intermediate = true});
    }

    nlohmann::json tls_config(const std::string& min_version = "") {
        nlohmann::json config = base_config({nomad_->base_url()});
        const auto entry = [](const IssuedFiles& files) {
            return nlohmann::json{{"certificate", files.certificate},
                                  {"private_key", files.private_key}};
        };
        config["tls"]["certificates"] = {entry(public_certificate_), entry(wildcard_certificate_),
                                         entry(rsa_certificate_)};
        if (!min_version.empty()) config["tls"]["min_version"] = min_version;
        return config;
    }

    ProbeResult probe_with(ProbeOptions options) {
        return probe(public_port_, public_pki_->ca_file(), options);
    }

    std::string discovery_request() {
        return "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: " + host_header() +
               "\r\nConnection: close\r\n\r\n";
    }

    // A clean exit, so that a sanitizer report at exit (leaks included) fails the test.
    void expect_clean_stop() { EXPECT_EQ(gateway_->stop(SIGTERM), 0) << gateway_->log(); }

    IssuedFiles rsa_certificate_;
    IssuedFiles wildcard_certificate_;
};

TEST_F(TlsE2E, SniAndSignatureAlgorithmsPickTheCertificate) {
    start_gateway_with(tls_config());
    ASSERT_TRUE(wait_ready()) << gateway_->log();

    struct Case {
        const char* label;
        ProbeOptions options;
        std::string expected_name;
        int expected_key_type;
    };
    const std::string public_host = kPublicHost;
    const std::vector<Case> cases = {
        {"default client", {.sni = public_host, .verify = true}, public_host, EVP_PKEY_EC},
        {"default client, TLS 1.2",
         {.sni = public_host, .verify = true, .max_version = TLS1_2_VERSION},
         public_host,
         EVP_PKEY_EC},
        {"RSA-only signature algorithms",
         {.sni = public_host, .verify = true, .signature_algorithms = kRsaOnlySignatureAlgorithms},
         "rsa.oidc.test",
         EVP_PKEY_RSA},
        {"RSA-only signature algorithms, TLS 1.2",
         {.sni = public_host,
          .verify = true,
          .max_version = TLS1_2_VERSION,
          .signature_algorithms = kRsaOnlySignatureAlgorithms},
         "rsa.oidc.test",
         EVP_PKEY_RSA},
        {"aRSA ciphers, TLS 1.2",
         {.sni = public_host,
          .verify = true,
          .max_version = TLS1_2_VERSION,
          .tls12_ciphers = "aRSA"},
         "rsa.oidc.test",
         EVP_PKEY_RSA},
        {"wildcard name",
         {.sni = "api.alt.test", .verify = true},
         "wildcard.alt.test",
         EVP_PKEY_EC},
        {"wildcard name, other case", {.sni = "WWW.Alt.Test"}, "wildcard.alt.test", EVP_PKEY_EC},
        {"wildcard covers one label only", {.sni = "a.b.alt.test"}, public_host, EVP_PKEY_EC},
        {"unknown name", {.sni = "unknown.test"}, public_host, EVP_PKEY_EC},
        {"no SNI", {}, public_host, EVP_PKEY_EC},
        {"no SNI, RSA-only signature algorithms",
         {.signature_algorithms = kRsaOnlySignatureAlgorithms},
         "rsa.oidc.test",
         EVP_PKEY_RSA},
    };
    for (const Case& c : cases) {
        const ProbeResult result = probe_with(c.options);
        ASSERT_TRUE(result.connected) << c.label << ": " << result.error;
        EXPECT_EQ(result.peer_common_name, c.expected_name) << c.label;
        EXPECT_EQ(result.peer_key_type, c.expected_key_type) << c.label;
        EXPECT_EQ(result.version,
                  c.options.max_version != 0 ? c.options.max_version : TLS1_3_VERSION)
            << c.label;
    }

    // The documents are served over either certificate.
    for (const std::string& algorithms :
         {std::string(), std::string(kRsaOnlySignatureAlgorithms)}) {
        const ProbeResult result = probe_with({.sni = public_host,
                                               .verify = true,
                                               .signature_algorithms = algorithms,
                                               .request = discovery_request()});
        ASSERT_TRUE(result.connected) << result.error;
        EXPECT_EQ(result.response.rfind("HTTP/1.1 200 ", 0), 0u) << result.response;
        EXPECT_NE(result.response.find(nomad_discovery_document(issuer_)), std::string::npos);
    }
    expect_clean_stop();
}

TEST_F(TlsE2E, MinVersion13RefusesTls12Clients) {
    start_gateway_with(tls_config("1.3"));
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    for (const std::string sni : {kPublicHost, "api.alt.test", ""}) {
        const ProbeResult refused = probe_with({.sni = sni, .max_version = TLS1_2_VERSION});
        EXPECT_FALSE(refused.connected) << sni;
        EXPECT_NE(refused.error.find("alert protocol version"), std::string::npos)
            << sni << ": " << refused.error;
        const ProbeResult accepted = probe_with({.sni = sni});
        ASSERT_TRUE(accepted.connected) << sni << ": " << accepted.error;
        EXPECT_EQ(accepted.version, TLS1_3_VERSION) << sni;
    }
    expect_clean_stop();
}

TEST_F(TlsE2E, RefusesTls11EvenWhenTheClientOffersIt) {
    start_gateway_with(tls_config());
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    ProbeOptions options{.sni = kPublicHost,
                         .min_version = TLS1_1_VERSION,
                         .max_version = TLS1_1_VERSION,
                         .tls12_ciphers = "DEFAULT:@SECLEVEL=0"};
    const ProbeResult refused = probe_with(options);
    EXPECT_FALSE(refused.connected);
    EXPECT_NE(refused.error.find("alert protocol version"), std::string::npos) << refused.error;
    expect_clean_stop();
}

// TLS 1.2 clients without tickets resume from the server's session cache (a session survives
// when the connection ends with close_notify, as after a `Connection: close` response).
TEST_F(TlsE2E, Tls12ClientsWithoutTicketsResumeBySessionId) {
    start_gateway_with(tls_config());
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    ProbeOptions options{.sni = kPublicHost,
                         .max_version = TLS1_2_VERSION,
                         .no_tickets = true,
                         .request = discovery_request()};
    const ProbeResult first = probe_with(options);
    ASSERT_TRUE(first.connected) << first.error;
    ASSERT_TRUE(first.session);
    const unsigned char* ticket = nullptr;
    std::size_t ticket_length = 0;
    SSL_SESSION_get0_ticket(first.session.get(), &ticket, &ticket_length);
    EXPECT_EQ(ticket_length, 0u);  // so only the session ID can resume it
    options.resume = first.session.get();
    const ProbeResult resumed = probe_with(options);
    ASSERT_TRUE(resumed.connected) << resumed.error;
    EXPECT_TRUE(resumed.reused);
    EXPECT_EQ(resumed.response.rfind("HTTP/1.1 200 ", 0), 0u) << resumed.response;
    expect_clean_stop();
}

// A client that closes with close_notify before asking anything (as scanners and health probes
// do) gets ours back, so OpenSSL keeps its session cached rather than dropping it as cut short.
TEST_F(TlsE2E, ASessionClosedCleanlyWithoutARequestStillResumes) {
    start_gateway_with(tls_config());
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    ProbeOptions options{.sni = kPublicHost, .max_version = TLS1_2_VERSION, .no_tickets = true};
    const ProbeResult first = probe_with(options);
    ASSERT_TRUE(first.connected) << first.error;
    ASSERT_TRUE(first.session);
    // Only once the gateway has dealt with that close does the cache show what it kept.
    ASSERT_TRUE(wait_until(
        [&] {
            const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
            return metrics.ok && find_sample(metrics, "oidc_gateway_connections_open",
                                             {{"side", "public"}}) == 0.0;
        },
        5s));
    options.resume = first.session.get();
    const ProbeResult resumed = probe_with(options);
    ASSERT_TRUE(resumed.connected) << resumed.error;
    EXPECT_TRUE(resumed.reused);
    expect_clean_stop();
}

// Tickets are encrypted with keys the gateway keeps across reloads: a session from before a
// SIGHUP (which builds a new TLS context, here with a renewed certificate) resumes after it.
TEST_F(TlsE2E, SessionsResumeAcrossAReload) {
    start_gateway_with(tls_config());
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string public_host = kPublicHost;

    std::vector<std::pair<int, SslSessionPtr>> sessions;
    for (const int max_version : {0, TLS1_2_VERSION}) {
        ProbeResult first = probe_with(
            {.sni = public_host, .max_version = max_version, .request = discovery_request()});
        ASSERT_TRUE(first.connected) << first.error;
        ASSERT_TRUE(first.session);
        ASSERT_EQ(SSL_SESSION_is_resumable(first.session.get()), 1) << max_version;
        const ProbeResult again = probe_with({.sni = public_host,
                                              .max_version = max_version,
                                              .resume = first.session.get(),
                                              .request = discovery_request()});
        ASSERT_TRUE(again.connected) << again.error;
        EXPECT_TRUE(again.reused) << "before the reload, version " << max_version;
        sessions.emplace_back(max_version, std::move(first.session));
    }

    const IssuedFiles renewed = public_pki_->issue({.common_name = "renewed.oidc.test",
                                                    .dns_names = {kPublicHost},
                                                    .ip_addresses = {},
                                                    .include_intermediate = true});
    write_file(public_certificate_.certificate, read_file(renewed.certificate));
    write_file(public_certificate_.private_key, read_file(renewed.private_key));
    ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0);
    // Every worker has the new context once a run of fresh connections all see the new leaf.
    ASSERT_TRUE(wait_until(
        [&] {
            for (int i = 0; i < 8; ++i) {
                if (probe_with({.sni = public_host}).peer_common_name != "renewed.oidc.test") {
                    return false;
                }
            }
            return true;
        },
        15s))
        << gateway_->log();

    for (const auto& [max_version, session] : sessions) {
        const ProbeResult resumed = probe_with({.sni = public_host,
                                                .max_version = max_version,
                                                .resume = session.get(),
                                                .request = discovery_request()});
        ASSERT_TRUE(resumed.connected) << resumed.error;
        EXPECT_TRUE(resumed.reused) << "after the reload, version " << max_version;
        EXPECT_EQ(resumed.response.rfind("HTTP/1.1 200 ", 0), 0u) << resumed.response;
    }
    expect_clean_stop();
}

}  // namespace
}  // namespace oidcgw::testing
