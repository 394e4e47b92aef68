// A TLS client whose records the test puts on the wire itself. The client's SSL object reads and
// writes memory BIOs: every byte it would send is handed to the test, which writes it to the TCP
// socket whole, cut, delayed, re-framed or mixed with records of its own making; what the server
// sends is read from the socket into the SSL object. Every wait is bounded. Loopback only.
#pragma once

#include "common/raii.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw::testing {

using ShaperClock = std::chrono::steady_clock;

// TLS record content types.
inline constexpr std::uint8_t kChangeCipherSpec = 20;
inline constexpr std::uint8_t kAlert = 21;
inline constexpr std::uint8_t kHandshake = 22;
inline constexpr std::uint8_t kApplicationData = 23;

// A record as it goes on the wire: 5-byte header (type, version, length) and body.
std::string make_record(std::uint8_t type, std::string_view body, std::uint16_t version = 0x0303);

// Whole records of `wire`, each with its header; throws when `wire` ends inside a record.
std::vector<std::string> split_records(std::string_view wire);

// The records of `wire` with every body cut into records of at most `size` bytes under the same
// type and version (for plaintext handshake records, which may be fragmented arbitrarily).
std::string refragment(std::string_view wire, std::size_t size);

struct ShapedClientOptions {
    std::uint16_t port = 0;
    std::string source_address = "127.0.0.1";
    std::string sni;
    int max_version = 0;  // 0: up to TLS 1.3
    // Waits on the socket (connect, handshake, reads) never last longer than this each.
    std::chrono::milliseconds timeout{5000};
    // SO_RCVBUF before connecting (0: the kernel's default): a small one closes the client's
    // receive window after a few KiB, so a client that stops reading soon fills the server's
    // socket.
    int receive_buffer = 0;
    // TCP_MAXSEG before connecting (0: the route's): the MSS the SYN announces. The server sizes
    // its send buffer from it (Linux: twice ten segments' worth of memory), so a small one keeps
    // that buffer to a few tens of KiB instead of megabytes on the loopback.
    int max_segment = 0;
};

// Records carry sequence numbers: make them one call per statement, in the order they go on the
// wire (the operands of `a.seal(x) + a.seal(y)` may be evaluated right to left).
class ShapedTlsClient {
  public:
    // Connects over TCP (TCP_NODELAY, so each send goes out as its own segment); see connected().
    explicit ShapedTlsClient(ShapedClientOptions options);
    ~ShapedTlsClient();
    ShapedTlsClient(const ShapedTlsClient&) = delete;
    ShapedTlsClient& operator=(const ShapedTlsClient&) = delete;

    bool connected() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    SSL* ssl() const { return ssl_.get(); }

    // Runs the handshake. Each flight the client produces goes to `send_flight` (default: sent
    // whole); the server's answers are read into the SSL object. True once it has finished.
    bool handshake(const std::function<void(std::string_view)>& send_flight = {});
    bool handshake_done() const { return handshake_done_; }
    ShaperClock::time_point handshake_done_at() const { return handshake_done_at_; }
    int version() const;  // TLS1_3_VERSION, TLS1_2_VERSION, ...

    // The records SSL_write would send for `plaintext` (one per 16384 bytes), not sent.
    std::string seal(std::string_view plaintext);
    // Whatever else the SSL object wrote since the last call (alerts, close_notify).
    std::string take_output();
    // TLS 1.3: the record of one KeyUpdate (asking the server to update too when `request_peer`);
    // the SSL object's keys move on, so seal_own is refused afterwards.
    std::string key_update(bool request_peer);
    // TLS 1.2: the encrypted ClientHello of a client-initiated renegotiation.
    std::string renegotiate();

    // TLS 1.3 only: a record protected with the client's application traffic keys by the test's
    // own record layer (the SSL object never writes an empty, padded, oversized or alert record
    // on request): inner content `content` of type `inner_type`, then `padding` zero bytes. It
    // takes the next sequence number, so after it the SSL object must write no more records.
    std::string seal_own(std::uint8_t inner_type, std::string_view content,
                         std::size_t padding = 0);

    // Writes all of `bytes` to the socket (bounded by the timeout); false when the peer is gone.
    bool send(std::string_view bytes);
    // Sends `bytes` in pieces of `piece` bytes, sleeping `gap` between them.
    bool send_dripped(std::string_view bytes, std::size_t piece, std::chrono::milliseconds gap);

    // Reads what the server sends into the SSL object until `done(plaintext)` holds, the server
    // closes, or `within` passes. Bytes the SSL object writes meanwhile (its answers to alerts or
    // key updates) are sent when forward_output is on. Returns done(plaintext) at the end.
    bool read_until(const std::function<bool(const std::string&)>& done,
                    std::chrono::milliseconds within);
    // Reads (and decrypts what it can) until the server closes, at most `within`.
    bool wait_closed(std::chrono::milliseconds within);
    // Reads what has arrived, without waiting (for a caller polling many clients at once).
    void pump();

    const std::string& plaintext() const { return plaintext_; }  // decrypted from the server
    const std::string& received() const { return received_; }    // raw bytes after the handshake
    bool closed() const { return closed_; }                      // EOF or reset seen
    ShaperClock::time_point closed_at() const { return closed_at_; }
    bool tls_error() const { return tls_error_; }  // the SSL object failed (e.g. a fatal alert)
    const std::string& tls_error_text() const { return tls_error_text_; }  // OpenSSL's reason
    bool close_notify() const { return close_notify_; }
    void set_forward_output(bool forward) { forward_output_ = forward; }

  private:
    static void on_keylog(const SSL* ssl, const char* line);
    void drain_ssl();  // SSL_read everything decryptable into plaintext_
    bool receive_once(ShaperClock::time_point deadline);  // one recv() into the read BIO
    std::string drain_output();                           // what the SSL object wrote, counted

    ShapedClientOptions options_;
    int fd_ = -1;
    SslCtxPtr context_;
    SslPtr ssl_;
    BIO* network_in_ = nullptr;   // owned by ssl_: what the server sent, for the SSL to read
    BIO* network_out_ = nullptr;  // owned by ssl_: what the SSL wrote, for the test to send
    ShaperClock::time_point handshake_done_at_{};
    bool handshake_done_ = false;
    std::string plaintext_;
    std::string received_;
    bool closed_ = false;
    ShaperClock::time_point closed_at_{};
    bool tls_error_ = false;
    std::string tls_error_text_;
    bool close_notify_ = false;
    bool forward_output_ = true;
    std::string client_traffic_secret_;      // CLIENT_TRAFFIC_SECRET_0, from the key log
    std::uint64_t application_records_ = 0;  // records written under that secret so far
    bool keys_updated_ = false;              // the secret above is no longer the current one
};

}  // namespace oidcgw::testing
