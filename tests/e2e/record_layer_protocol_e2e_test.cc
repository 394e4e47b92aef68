// End-to-end record-layer attacks, part two: records a normal client does not send. Empty and
// padded records, a close_notify or an alert in the middle of a request, KeyUpdate floods,
// ChangeCipherSpec at odd times, TLS 1.2 renegotiation, and handshakes in one-byte records. In
// each case a well-behaved client is still served, the gateway does not spin, and the shaped
// connection ends at its deadline or at once (see record_layer_fixture.h). Loopback only.
//
// OpenSSL's client never writes an empty, padded, oversized or alert record on request, so those
// are sealed by the shaper's own TLS 1.3 record layer (AES-128-GCM under the client's traffic
// secret, taken from the key log): the exact wire shapes, not the nearest ones.
#include "record_layer_fixture.h"

namespace oidcgw::testing {
namespace {

// A ChangeCipherSpec record, as middlebox-compatible TLS 1.3 clients send once in a handshake.
const std::string kChangeCipherSpecRecord("\x14\x03\x03\x00\x01\x01", 6);

std::string alert(std::uint8_t level, std::uint8_t description) {
    return {static_cast<char>(level), static_cast<char>(description)};
}

std::vector<ShapedTlsClient*> pointers(const std::vector<std::unique_ptr<ShapedTlsClient>>& all) {
    std::vector<ShapedTlsClient*> out;
    for (const auto& client : all) out.push_back(client.get());
    return out;
}

void expect_one_jwks_response(const ShapedTlsClient& client, const std::string& what,
                              const std::string& jwks) {
    const std::vector<ParsedResponse> responses = parse_responses(client.plaintext());
    ASSERT_EQ(responses.size(), 1u) << what << ": " << client.plaintext().substr(0, 200);
    EXPECT_EQ(responses[0].status, 200) << what;
    EXPECT_EQ(responses[0].body, jwks) << what;
}

class RecordLayerProtocolE2E : public RecordLayerFixture {};

// Empty application-data records around and between the halves of a request, and a request
// padded to the largest record TLS 1.3 allows: answered. A flood of empty records, and a record
// one byte over the plaintext limit: the connection ends at once, unanswered.
TEST_P(RecordLayerProtocolE2E, EmptyPaddedAndOversizedRecords) {
    start();
    const std::string plain = request(/*close=*/true);
    std::vector<std::unique_ptr<ShapedTlsClient>> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(shaped());
        ASSERT_TRUE(handshaken(clients.back()));
    }
    ShapedTlsClient& empties = *clients[0];
    std::string around;
    for (int i = 0; i < 3; ++i) around += empties.seal_own(kApplicationData, "");
    around += empties.seal_own(kApplicationData, plain.substr(0, 20));
    for (int i = 0; i < 2; ++i) around += empties.seal_own(kApplicationData, "");
    around += empties.seal_own(kApplicationData, plain.substr(20));
    around += empties.seal_own(kApplicationData, "");
    // TLSCiphertext may be 2^14 + 256 bytes long: the inner plaintext, its type byte, padding
    // and the 16-byte tag.
    ShapedTlsClient& padded = *clients[1];
    const std::string largest =
        padded.seal_own(kApplicationData, plain, 16384 + 256 - 16 - 1 - plain.size());
    ASSERT_EQ(largest.size(), 5u + 16384 + 256);
    ShapedTlsClient& flood = *clients[2];
    std::string empty_flood;
    for (int i = 0; i < 1000; ++i) empty_flood += flood.seal_own(kApplicationData, "");
    ShapedTlsClient& overflow = *clients[3];
    const std::string too_long = overflow.seal_own(kApplicationData, std::string(16385, 'G'));

    const CpuWatch watch(gateway_->pid());
    ASSERT_TRUE(empties.send_dripped(around, 40, 20ms));
    ASSERT_TRUE(padded.send(largest));
    const auto flood_at = ShaperClock::now();
    flood.send(empty_flood);  // may be cut short by the server's close
    const auto overflow_at = ShaperClock::now();
    overflow.send(too_long);
    expect_good_client_served("after empty, padded and oversized records");
    wait_all_closed(pointers(clients), ShaperClock::now() + 2s);
    expect_no_spin(watch, "empty, padded and oversized records");
    expect_one_jwks_response(empties, "empty records around a request", jwks_);
    expect_one_jwks_response(padded, "a request padded to the largest record", jwks_);
    EXPECT_TRUE(empties.closed() && padded.closed());  // Connection: close
    // OpenSSL refuses more than 32 empty records in a row (unexpected_message).
    expect_closed_at_once(flood, flood_at, "1000 empty records");
    expect_closed_at_once(overflow, overflow_at, "16385 bytes of plaintext in a record");
}

// Half a request, then: a close_notify (TLS 1.3 and 1.2), a fatal alert, a user_canceled warning
// (TLS 1.3 ignores it: the head deadline ends the connection), ten of those (OpenSSL takes five
// warnings in a row at most), an unencrypted alert under TLS 1.2 (fails its MAC).
TEST_P(RecordLayerProtocolE2E, ACloseNotifyOrAnAlertInTheMiddleOfARequest) {
    start();
    const std::string half = request().substr(0, 24);
    std::vector<std::unique_ptr<ShapedTlsClient>> clients;
    std::vector<std::string> names;
    std::vector<std::string> wires;
    const auto add = [&](int version, const std::string& name) -> ShapedTlsClient& {
        clients.push_back(shaped(version));
        names.push_back(name);
        return *clients.back();
    };
    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        ShapedTlsClient& notify =
            add(version, "close_notify mid-request, " +
                             std::string(version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2"));
        ASSERT_TRUE(notify.handshake_done());
        wires.push_back(notify.seal(half));
        SSL_shutdown(notify.ssl());
        wires.back() += notify.take_output();
    }
    ShapedTlsClient& fatal = add(0, "a fatal internal_error alert mid-request");
    ASSERT_TRUE(fatal.handshake_done());
    wires.push_back(fatal.seal_own(kApplicationData, half));
    wires.back() += fatal.seal_own(kAlert, alert(2, 80));
    ShapedTlsClient& warnings = add(0, "ten user_canceled warnings mid-request");
    ASSERT_TRUE(warnings.handshake_done());
    wires.push_back(warnings.seal_own(kApplicationData, half));
    for (int i = 0; i < 10; ++i) wires.back() += warnings.seal_own(kAlert, alert(1, 90));
    ShapedTlsClient& plain_alert = add(TLS1_2_VERSION, "an unencrypted alert under TLS 1.2");
    ASSERT_TRUE(plain_alert.handshake_done());
    wires.push_back(plain_alert.seal(half) + make_record(kAlert, alert(2, 40)));
    // Last: the one whose connection stays open until its deadline.
    ShapedTlsClient& canceled = add(0, "one user_canceled warning mid-request");
    ASSERT_TRUE(canceled.handshake_done());
    wires.push_back(canceled.seal_own(kApplicationData, half));
    wires.back() += canceled.seal_own(kAlert, alert(1, 90));

    const CpuWatch watch(gateway_->pid());
    std::vector<ShaperClock::time_point> sent_at;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        sent_at.push_back(ShaperClock::now());
        clients[i]->send(wires[i]);
    }
    expect_good_client_served("after alerts mid-request");
    wait_all_closed(pointers(clients), sent_at.back() + kHeadDeadline + kCloseSlack);
    expect_no_spin(watch, "alerts mid-request");
    for (std::size_t i = 0; i + 1 < clients.size(); ++i) {
        expect_closed_at_once(*clients[i], sent_at[i], names[i]);
    }
    // The head's first byte started its deadline.
    expect_closed_at(canceled, sent_at.back() + kHeadDeadline, names.back());
    EXPECT_EQ(canceled.plaintext(), "");
}

// TLS 1.3 KeyUpdate floods. OpenSSL 3.0 sets no limit on KeyUpdates in a row (BoringSSL takes
// 32): it processes 300, and answers each one that asks with a KeyUpdate of its own, one record
// for one record (each costs a key derivation: 300 are a fair share of a sanitizer build's CPU
// over the case, a thousand came near the spin bound). So the careful behaviour to check is the
// worker's: it stays free for others, never answers more than it is sent, and the connection still
// ends at its deadline; a request after a flood is answered. A KeyUpdate before each of five
// requests is ordinary use.
TEST_P(RecordLayerProtocolE2E, KeyUpdateFloodsNeitherStallTheWorkerNorOutliveTheDeadline) {
    constexpr int kFlood = 300;
    start();
    auto requested = shaped();
    auto unrequested = shaped();
    auto ordinary = shaped();
    ASSERT_TRUE(handshaken(requested) && handshaken(unrequested) && handshaken(ordinary));
    std::string requested_flood;
    for (int i = 0; i < kFlood; ++i) requested_flood += requested->key_update(true);
    std::string unrequested_flood;
    for (int i = 0; i < kFlood; ++i) unrequested_flood += unrequested->key_update(false);
    unrequested_flood += unrequested->seal(request(/*close=*/true));
    std::string normal;
    for (int i = 0; i < 5; ++i) {
        normal += ordinary->key_update(true);
        normal += ordinary->seal(request(i == 4));
    }

    const CpuWatch watch(gateway_->pid());
    ASSERT_TRUE(requested->send(requested_flood));
    ASSERT_TRUE(unrequested->send(unrequested_flood));
    ASSERT_TRUE(ordinary->send(normal));
    expect_good_client_served("after KeyUpdate floods");
    wait_all_closed({requested.get(), unrequested.get(), ordinary.get()},
                    requested->handshake_done_at() + kHeadDeadline + kCloseSlack);
    expect_no_spin(watch, "KeyUpdate floods");
    expect_closed_at(*requested, requested->handshake_done_at() + kHeadDeadline,
                     "300 KeyUpdates asking for one back, then silence");
    // What the server sent: its session ticket and at most one KeyUpdate per one received.
    EXPECT_LE(requested->received().size(), requested_flood.size() + 1024);
    EXPECT_FALSE(requested->tls_error()) << requested->tls_error_text();
    expect_one_jwks_response(*unrequested, "300 KeyUpdates, then a request", jwks_);
    const std::vector<ParsedResponse> responses = parse_responses(ordinary->plaintext());
    ASSERT_EQ(responses.size(), 5u) << ordinary->plaintext().substr(0, 200);
    for (const ParsedResponse& response : responses) EXPECT_EQ(response.body, jwks_);
    EXPECT_TRUE(unrequested->closed() && ordinary->closed());  // Connection: close
}

// ChangeCipherSpec after a TLS 1.3 or 1.2 handshake, between the two records of a request,
// before the ClientHello, and a thousand in a TLS 1.3 handshake: each ends the connection at
// once, unanswered. Five in a TLS 1.3 handshake are dropped, as RFC 8446 says.
TEST_P(RecordLayerProtocolE2E, ChangeCipherSpecAtOddTimesEndsTheConnection) {
    start();
    auto after13 = shaped();
    auto after12 = shaped(TLS1_2_VERSION);
    auto between = shaped();
    ASSERT_TRUE(handshaken(after13) && handshaken(after12) && handshaken(between));
    const std::string plain = request();
    std::string split = between->seal(plain.substr(0, 20)) + kChangeCipherSpecRecord;
    split += between->seal(plain.substr(20));
    const CpuWatch watch(gateway_->pid());
    const auto sent_at = ShaperClock::now();
    ASSERT_TRUE(after13->send(kChangeCipherSpecRecord));
    ASSERT_TRUE(after12->send(kChangeCipherSpecRecord));
    between->send(split);
    auto first = shaped(0, /*handshake=*/false);
    ASSERT_TRUE(first->connected());
    EXPECT_FALSE(first->handshake([&](std::string_view flight) {
        first->send(kChangeCipherSpecRecord + std::string(flight));
    }));
    // Within a TLS 1.3 handshake a CCS is dropped (RFC 8446 section 5), a few extra ones too;
    // OpenSSL counts them with empty records and ends the connection past 32.
    const auto extra_ccs = [&](std::size_t count) {
        auto client = shaped(0, /*handshake=*/false);
        int flights = 0;
        const bool finished = client->handshake([&](std::string_view flight) {
            std::string out;  // before the second flight, which begins with the client's own CCS
            if (flights++ == 1) {
                for (std::size_t i = 0; i < count; ++i) out += kChangeCipherSpecRecord;
            }
            client->send(out + std::string(flight));
        });
        if (finished) client->send(client->seal(request(/*close=*/true)));
        return client;
    };
    auto five_more = extra_ccs(5);
    const auto flood_at = ShaperClock::now();
    auto flood = extra_ccs(1000);
    expect_good_client_served("after ChangeCipherSpec records");
    wait_all_closed(
        {after13.get(), after12.get(), between.get(), first.get(), five_more.get(), flood.get()},
        ShaperClock::now() + 2s);
    expect_no_spin(watch, "ChangeCipherSpec at odd times");
    expect_closed_at_once(*after13, sent_at, "CCS after a TLS 1.3 handshake");
    expect_closed_at_once(*after12, sent_at, "CCS after a TLS 1.2 handshake");
    expect_closed_at_once(*between, sent_at, "CCS between the records of a request");
    expect_closed_at_once(*first, sent_at, "CCS before the ClientHello");
    expect_one_jwks_response(*five_more, "five extra CCS in a TLS 1.3 handshake", jwks_);
    EXPECT_TRUE(five_more->closed());  // Connection: close
    expect_closed_at_once(*flood, flood_at, "1000 extra CCS in a TLS 1.3 handshake");
}

// A TLS 1.2 client asks to renegotiate: the gateway refuses (a no_renegotiation warning, never a
// ServerHello). A client that then gives up with its fatal alert is closed at once; one that
// stays silent is closed at the first request's deadline.
TEST_P(RecordLayerProtocolE2E, Tls12RenegotiationIsRefused) {
    start();
    auto giving_up = shaped(TLS1_2_VERSION);
    auto silent = shaped(TLS1_2_VERSION);
    ASSERT_TRUE(handshaken(giving_up) && handshaken(silent));
    silent->set_forward_output(false);
    const std::string hello = giving_up->renegotiate();
    const std::string silent_hello = silent->renegotiate();
    ASSERT_FALSE(hello.empty());
    ASSERT_EQ(hello[0], static_cast<char>(kHandshake));
    const CpuWatch watch(gateway_->pid());
    const auto sent_at = ShaperClock::now();
    ASSERT_TRUE(giving_up->send(hello));
    ASSERT_TRUE(silent->send(silent_hello));
    expect_good_client_served("after renegotiation attempts");
    wait_all_closed({giving_up.get(), silent.get()},
                    silent->handshake_done_at() + kHeadDeadline + kCloseSlack);
    expect_no_spin(watch, "renegotiation attempts");
    expect_closed_at_once(*giving_up, sent_at, "a refused renegotiation, then a fatal alert");
    EXPECT_TRUE(giving_up->tls_error());
    expect_closed_at(*silent, silent->handshake_done_at() + kHeadDeadline,
                     "a refused renegotiation, then silence");
    // All the server sent after the handshake: alert records (the warning), no handshake.
    for (const std::string& record : split_records(silent->received())) {
        EXPECT_EQ(record[0], static_cast<char>(kAlert));
    }
    EXPECT_FALSE(silent->received().empty());
}

// The plaintext handshake records re-framed into one-byte records (TLS 1.3: the ClientHello;
// TLS 1.2: the ClientHello and the ClientKeyExchange), dripped: the handshakes finish and the
// request is answered. Half of a ClientHello in one-byte records, then silence: the handshake
// deadline closes it.
TEST_P(RecordLayerProtocolE2E, HandshakesInOneByteRecords) {
    start();
    const auto one_byte_plaintext = [](std::string_view flight) {
        std::string out;
        bool encrypted = false;  // from a ChangeCipherSpec on, records are protected
        for (const std::string& record : split_records(flight)) {
            encrypted = encrypted || record[0] == static_cast<char>(kChangeCipherSpec);
            out += (!encrypted && record[0] == static_cast<char>(kHandshake))
                       ? refragment(record, 1)
                       : record;
        }
        return out;
    };
    const CpuWatch watch(gateway_->pid());
    auto stalled = shaped(0, /*handshake=*/false);
    ASSERT_TRUE(stalled->connected());
    SSL_do_handshake(stalled->ssl());
    const std::string stalled_hello = refragment(stalled->take_output(), 1);
    const auto stalled_at = ShaperClock::now();
    ASSERT_TRUE(stalled->send(stalled_hello.substr(0, stalled_hello.size() / 2)));

    std::vector<std::unique_ptr<ShapedTlsClient>> clients;
    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        clients.push_back(shaped(version, /*handshake=*/false));
        ASSERT_TRUE(clients.back()->connected());
        ShapedTlsClient& client = *clients.back();
        int flights = 0;
        ASSERT_TRUE(client.handshake([&](std::string_view flight) {
            const std::string shaped_flight = one_byte_plaintext(flight);
            const std::size_t middle = shaped_flight.size() / 12 * 6;  // on a record boundary
            client.send_dripped(shaped_flight.substr(0, middle), 6, 1ms);
            if (flights++ == 0)
                expect_good_client_served("in the middle of a one-byte-record hello");
            client.send_dripped(shaped_flight.substr(middle), 6, 1ms);
        })) << "TLS version "
            << version;
        EXPECT_EQ(client.version(), version);
        ASSERT_TRUE(client.send(client.seal(request(/*close=*/true))));
    }
    std::vector<ShapedTlsClient*> all = pointers(clients);
    all.push_back(stalled.get());
    wait_all_closed(all, stalled_at + kHandshakeDeadline + kCloseSlack);
    expect_no_spin(watch, "one-byte handshake records");
    for (const auto& client : clients) {
        expect_one_jwks_response(*client, "a handshake in one-byte records", jwks_);
        EXPECT_TRUE(client->closed());
    }
    expect_closed_at(*stalled, stalled_at + kHandshakeDeadline, "half a one-byte-record hello");
}

INSTANTIATE_TEST_SUITE_P(RecordLayer, RecordLayerProtocolE2E, ::testing::Values(1, 2),
                         worker_count_name);

}  // namespace
}  // namespace oidcgw::testing
