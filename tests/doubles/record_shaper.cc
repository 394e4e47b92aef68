#include "record_shaper.h"

#include "openssl_failure.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <thread>

namespace oidcgw::testing {
namespace {

// Waits for `events` on `fd` until `deadline` (one already past: looks once); false when it
// passed first.
bool wait_for(int fd, short events, ShaperClock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ShaperClock::now());
        pollfd entry{fd, events, 0};
        const int result = ::poll(&entry, 1, std::max(0, static_cast<int>(left.count()) + 1));
        if (result < 0 && errno == EINTR) continue;
        if (result != 0) return result > 0;
        if (left.count() <= 0) return false;
    }
}

std::string from_hex(std::string_view hex) {
    std::string bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
    }
    return bytes;
}

// RFC 8446 section 7.1: HKDF-Expand-Label(secret, label, "", length) with SHA-256.
std::string expand_label(const std::string& secret, const std::string& label, std::size_t length) {
    const std::string full_label = "tls13 " + label;
    std::string info;
    info += static_cast<char>(length >> 8);
    info += static_cast<char>(length & 0xff);
    info += static_cast<char>(full_label.size());
    info += full_label;
    info += '\0';  // empty context
    std::unique_ptr<EVP_KDF, CDeleter<EVP_KDF_free>> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
    std::unique_ptr<EVP_KDF_CTX, CDeleter<EVP_KDF_CTX_free>> context(EVP_KDF_CTX_new(kdf.get()));
    if (!context) throw_openssl_error("HKDF");
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    char digest[] = "SHA256";
    std::string key = secret;
    const OSSL_PARAM parameters[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key.data(), key.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode), OSSL_PARAM_construct_end()};
    std::string out(length, '\0');
    if (EVP_KDF_derive(context.get(), reinterpret_cast<unsigned char*>(out.data()), length,
                       parameters) != 1) {
        throw_openssl_error("HKDF-Expand-Label " + label);
    }
    return out;
}

}  // namespace

std::string make_record(std::uint8_t type, std::string_view body, std::uint16_t version) {
    std::string record;
    record += static_cast<char>(type);
    record += static_cast<char>(version >> 8);
    record += static_cast<char>(version & 0xff);
    record += static_cast<char>(body.size() >> 8);
    record += static_cast<char>(body.size() & 0xff);
    record += body;
    return record;
}

std::vector<std::string> split_records(std::string_view wire) {
    std::vector<std::string> records;
    while (!wire.empty()) {
        if (wire.size() < 5) throw std::runtime_error("a partial record header");
        const std::size_t length =
            (static_cast<unsigned char>(wire[3]) << 8) | static_cast<unsigned char>(wire[4]);
        if (wire.size() < 5 + length) throw std::runtime_error("a partial record");
        records.emplace_back(wire.substr(0, 5 + length));
        wire.remove_prefix(5 + length);
    }
    return records;
}

std::string refragment(std::string_view wire, std::size_t size) {
    std::string out;
    for (const std::string& record : split_records(wire)) {
        const auto type = static_cast<std::uint8_t>(record[0]);
        const auto version = static_cast<std::uint16_t>(
            (static_cast<unsigned char>(record[1]) << 8) | static_cast<unsigned char>(record[2]));
        const std::string_view body = std::string_view(record).substr(5);
        for (std::size_t at = 0; at < body.size(); at += size) {
            out += make_record(type, body.substr(at, size), version);
        }
    }
    return out;
}

ShapedTlsClient::ShapedTlsClient(ShapedClientOptions options) : options_(std::move(options)) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (options_.receive_buffer > 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options_.receive_buffer,
                     sizeof options_.receive_buffer);
    }
    if (options_.max_segment > 0) {
        ::setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &options_.max_segment,
                     sizeof options_.max_segment);
    }
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, options_.source_address.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(options_.port);
    ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    int error = 0;
    socklen_t length = sizeof error;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        (::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0 &&
         (errno != EINPROGRESS || !wait_for(fd, POLLOUT, ShaperClock::now() + options_.timeout) ||
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0))) {
        ::close(fd);
        return;
    }
    fd_ = fd;

    context_.reset(SSL_CTX_new(TLS_client_method()));
    if (!context_) throw_openssl_error("SSL_CTX_new");
    SSL_CTX_set_verify(context_.get(), SSL_VERIFY_NONE, nullptr);
    if (options_.max_version != 0) {
        SSL_CTX_set_max_proto_version(context_.get(), options_.max_version);
    }
    // One TLS 1.3 suite, the one seal_own implements.
    SSL_CTX_set_ciphersuites(context_.get(), "TLS_AES_128_GCM_SHA256");
    SSL_CTX_set_keylog_callback(context_.get(), &ShapedTlsClient::on_keylog);
    ssl_.reset(SSL_new(context_.get()));
    if (!ssl_) throw_openssl_error("SSL_new");
    SSL_set_app_data(ssl_.get(), this);
    if (!options_.sni.empty()) SSL_set_tlsext_host_name(ssl_.get(), options_.sni.c_str());
    network_in_ = BIO_new(BIO_s_mem());
    network_out_ = BIO_new(BIO_s_mem());
    if (network_in_ == nullptr || network_out_ == nullptr) throw_openssl_error("BIO_new");
    BIO_set_mem_eof_return(network_in_, -1);  // empty means "wait for more", not EOF
    SSL_set_bio(ssl_.get(), network_in_, network_out_);
    SSL_set_connect_state(ssl_.get());
}

ShapedTlsClient::~ShapedTlsClient() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
}

void ShapedTlsClient::on_keylog(const SSL* ssl, const char* line) {
    auto* self = static_cast<ShapedTlsClient*>(SSL_get_app_data(ssl));
    const std::string_view text(line);
    constexpr std::string_view kLabel = "CLIENT_TRAFFIC_SECRET_0 ";
    if (self == nullptr || text.substr(0, kLabel.size()) != kLabel) return;
    const std::size_t secret_at = text.rfind(' ');
    self->client_traffic_secret_ = from_hex(text.substr(secret_at + 1));
}

bool ShapedTlsClient::handshake(const std::function<void(std::string_view)>& send_flight) {
    if (fd_ < 0) return false;
    const auto deadline = ShaperClock::now() + options_.timeout;
    for (;;) {
        ERR_clear_error();
        const int result = SSL_do_handshake(ssl_.get());
        const std::string flight = drain_output();
        if (!flight.empty()) {
            if (send_flight) {
                send_flight(flight);
            } else if (!send(flight)) {
                return false;
            }
        }
        if (result == 1) break;
        if (SSL_get_error(ssl_.get(), result) != SSL_ERROR_WANT_READ || !receive_once(deadline)) {
            ERR_clear_error();
            return false;
        }
    }
    handshake_done_ = true;
    handshake_done_at_ = ShaperClock::now();
    return true;
}

int ShapedTlsClient::version() const {
    return SSL_version(ssl_.get());
}

std::string ShapedTlsClient::drain_output() {
    std::string out;
    char buffer[16384];
    for (int got; (got = BIO_read(network_out_, buffer, sizeof buffer)) > 0;) {
        out.append(buffer, static_cast<std::size_t>(got));
    }
    // The SSL object writes whole records: count those under the first application secret.
    if (handshake_done_ && !out.empty()) application_records_ += split_records(out).size();
    return out;
}

std::string ShapedTlsClient::seal(std::string_view plaintext) {
    ERR_clear_error();
    if (!plaintext.empty() &&
        SSL_write(ssl_.get(), plaintext.data(), static_cast<int>(plaintext.size())) <= 0) {
        throw_openssl_error("SSL_write into memory");
    }
    return drain_output();
}

std::string ShapedTlsClient::take_output() {
    return drain_output();
}

std::string ShapedTlsClient::key_update(bool request_peer) {
    ERR_clear_error();
    if (SSL_key_update(ssl_.get(), request_peer ? SSL_KEY_UPDATE_REQUESTED
                                                : SSL_KEY_UPDATE_NOT_REQUESTED) != 1 ||
        SSL_do_handshake(ssl_.get()) != 1) {
        throw_openssl_error("SSL_key_update");
    }
    keys_updated_ = true;
    return drain_output();
}

std::string ShapedTlsClient::renegotiate() {
    ERR_clear_error();
    if (SSL_renegotiate(ssl_.get()) != 1) throw_openssl_error("SSL_renegotiate");
    SSL_do_handshake(ssl_.get());  // writes the ClientHello, then wants the server's answer
    ERR_clear_error();
    return drain_output();
}

std::string ShapedTlsClient::seal_own(std::uint8_t inner_type, std::string_view content,
                                      std::size_t padding) {
    if (version() != TLS1_3_VERSION || client_traffic_secret_.size() != 32 || keys_updated_) {
        throw std::runtime_error("seal_own needs TLS 1.3 (AES-128-GCM) keys not yet updated");
    }
    const std::string key = expand_label(client_traffic_secret_, "key", 16);
    std::string nonce = expand_label(client_traffic_secret_, "iv", 12);
    const std::uint64_t sequence = application_records_++;
    for (int i = 0; i < 8; ++i) {
        nonce[11 - i] = static_cast<char>(nonce[11 - i] ^ static_cast<char>(sequence >> (8 * i)));
    }
    std::string inner(content);
    inner += static_cast<char>(inner_type);
    inner.append(padding, '\0');
    const std::size_t length = inner.size() + 16;  // the GCM tag
    if (length > 0xffff) throw std::runtime_error("seal_own: longer than a record can say");
    std::string header = make_record(kApplicationData, {});
    header[3] = static_cast<char>(length >> 8);
    header[4] = static_cast<char>(length & 0xff);

    std::unique_ptr<EVP_CIPHER_CTX, CDeleter<EVP_CIPHER_CTX_free>> cipher(EVP_CIPHER_CTX_new());
    std::string sealed(inner.size() + 16, '\0');
    auto* out = reinterpret_cast<unsigned char*>(sealed.data());
    int written = 0;
    int final_written = 0;
    if (!cipher ||
        EVP_EncryptInit_ex(cipher.get(), EVP_aes_128_gcm(), nullptr,
                           reinterpret_cast<const unsigned char*>(key.data()),
                           reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
        EVP_EncryptUpdate(cipher.get(), nullptr, &written,
                          reinterpret_cast<const unsigned char*>(header.data()), 5) != 1 ||
        EVP_EncryptUpdate(cipher.get(), out, &written,
                          reinterpret_cast<const unsigned char*>(inner.data()),
                          static_cast<int>(inner.size())) != 1 ||
        EVP_EncryptFinal_ex(cipher.get(), out + written, &final_written) != 1 ||
        EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_GET_TAG, 16, out + inner.size()) != 1) {
        throw_openssl_error("AES-128-GCM");
    }
    return header + sealed;
}

bool ShapedTlsClient::send(std::string_view bytes) {
    const auto deadline = ShaperClock::now() + options_.timeout;
    while (!bytes.empty()) {
        const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(sent));
            continue;
        }
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_for(fd_, POLLOUT, deadline)) {
            continue;
        }
        return false;
    }
    return true;
}

bool ShapedTlsClient::send_dripped(std::string_view bytes, std::size_t piece,
                                   std::chrono::milliseconds gap) {
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        if (at > 0) std::this_thread::sleep_for(gap);
        if (!send(bytes.substr(at, piece))) return false;
    }
    return true;
}

bool ShapedTlsClient::receive_once(ShaperClock::time_point deadline) {
    if (closed_ || !wait_for(fd_, POLLIN, deadline)) return false;
    char buffer[65536];
    const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
    if (got > 0) {
        BIO_write(network_in_, buffer, static_cast<int>(got));
        if (handshake_done_) received_.append(buffer, static_cast<std::size_t>(got));
        return true;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    closed_ = true;  // EOF, or a reset: the server ended it either way
    closed_at_ = ShaperClock::now();
    return false;
}

void ShapedTlsClient::drain_ssl() {
    if (tls_error_ || close_notify_) return;
    char buffer[16384];
    for (;;) {
        ERR_clear_error();
        const int got = SSL_read(ssl_.get(), buffer, sizeof buffer);
        if (got > 0) {
            plaintext_.append(buffer, static_cast<std::size_t>(got));
            continue;
        }
        const int error = SSL_get_error(ssl_.get(), got);
        if (error == SSL_ERROR_ZERO_RETURN) close_notify_ = true;
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_ZERO_RETURN) {
            tls_error_ = true;
            char reason[256] = "";
            ERR_error_string_n(ERR_peek_last_error(), reason, sizeof reason);
            tls_error_text_ = reason;
        }
        break;
    }
    ERR_clear_error();
    if (forward_output_) {
        const std::string answer = drain_output();
        if (!answer.empty()) send(answer);
    }
}

bool ShapedTlsClient::read_until(const std::function<bool(const std::string&)>& done,
                                 std::chrono::milliseconds within) {
    const auto deadline = ShaperClock::now() + within;
    for (;;) {
        drain_ssl();
        if (done(plaintext_)) return true;
        if (!receive_once(deadline) && (closed_ || ShaperClock::now() >= deadline)) {
            drain_ssl();
            return done(plaintext_);
        }
    }
}

void ShapedTlsClient::pump() {
    while (receive_once(ShaperClock::now())) {
    }
    drain_ssl();
}

bool ShapedTlsClient::wait_closed(std::chrono::milliseconds within) {
    read_until([](const std::string&) { return false; }, within);
    return closed_;
}

}  // namespace oidcgw::testing
