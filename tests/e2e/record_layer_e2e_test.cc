// End-to-end record-layer attacks, part one: TLS records that arrive incomplete, cut at every
// byte, dripped, at the maximum size, or cut and delayed at random. In each case a well-behaved
// client is still served, the gateway does not spin, and the shaped connection ends at its
// deadline (see record_layer_fixture.h). Loopback only, every wait bounded.
#include "record_layer_fixture.h"

#include <algorithm>
#include <cstdlib>
#include <random>

namespace oidcgw::testing {
namespace {

class RecordLayerE2E : public RecordLayerFixture {};

// After a finished handshake, 1 to 5 bytes of a record header, or a header announcing a 16 KB
// record and part of its body, then silence: each connection is closed at the first request's
// deadline. One that had a request answered holds a byte of the next record: keep-alive deadline.
TEST_P(RecordLayerE2E, PartialRecordsAreClosedAtTheirDeadlineWhileOthersAreServed) {
    start();
    // Every handshake and the keep-alive request first: a stuck worker would take no more.
    auto kept = shaped();
    ASSERT_TRUE(handshaken(kept));
    const auto asked_at = ShaperClock::now();  // the keep-alive deadline starts after this
    ASSERT_TRUE(kept->send(kept->seal(request())));
    ASSERT_TRUE(
        kept->read_until([](const std::string& in) { return !parse_responses(in).empty(); }, 2s));
    const auto answered_at = ShaperClock::now();
    ASSERT_EQ(parse_responses(kept->plaintext()).front().status, 200);
    std::vector<std::unique_ptr<ShapedTlsClient>> partial;
    std::vector<std::string> names;
    std::vector<std::string> wires;
    for (std::size_t bytes = 1; bytes <= 5; ++bytes) {
        partial.push_back(shaped());
        ASSERT_TRUE(handshaken(partial.back()));
        wires.push_back(partial.back()->seal(request()).substr(0, bytes));
        names.push_back(std::to_string(bytes) + " header byte(s)");
    }
    partial.push_back(shaped());
    ASSERT_TRUE(handshaken(partial.back()));
    const std::string long_record = partial.back()->seal(std::string(16384, 'G'));
    ASSERT_EQ(split_records(long_record).size(), 1u);
    wires.push_back(long_record.substr(0, 5 + 6000));
    names.push_back("a 16 KB record's header and 6000 bytes of its body");

    for (std::size_t i = 0; i < partial.size(); ++i) ASSERT_TRUE(partial[i]->send(wires[i]));
    ASSERT_TRUE(kept->send(kept->seal(request()).substr(0, 1)));
    const CpuWatch watch(gateway_->pid());
    std::this_thread::sleep_for(200ms);
    expect_good_client_served("while the partial records are held");
    std::this_thread::sleep_for(300ms);
    expect_good_client_served("half-way to the deadline");
    std::vector<ShapedTlsClient*> all{kept.get()};
    for (const auto& client : partial) all.push_back(client.get());
    wait_all_closed(all, std::max(answered_at + kKeepAliveDeadline,
                                  partial.back()->handshake_done_at() + kHeadDeadline) +
                             kCloseSlack);
    expect_no_spin(watch, "partial records held");
    for (std::size_t i = 0; i < partial.size(); ++i) {
        expect_closed_at(*partial[i], partial[i]->handshake_done_at() + kHeadDeadline, names[i]);
    }
    expect_closed_at(*kept, asked_at + kKeepAliveDeadline, answered_at + kKeepAliveDeadline,
                     "a byte after a keep-alive response");
    expect_good_client_served("after the closes");
}

// One request stream (two pipelined requests, two records) sent one byte per TCP segment, 5 ms
// apart (about a second in all): both answered correctly, and the good client is served in the
// middle of a record.
TEST_P(RecordLayerE2E, AStreamSentOneByteAtATimeIsAnsweredAndNobodyWaits) {
    start({{"request_head", "4s"}, {"keep_alive", "4s"}});  // the drip takes its time
    auto client = shaped();
    ASSERT_TRUE(handshaken(client));
    std::string stream = client->seal(request());  // one call a statement: records in order
    stream += client->seal(request(/*close=*/true));
    const CpuWatch watch(gateway_->pid());
    for (std::size_t at = 0; at < stream.size(); ++at) {
        if (at == 30 || at == stream.size() - 30) expect_good_client_served("mid-record");
        ASSERT_TRUE(client->send(stream.substr(at, 1))) << "byte " << at;
        std::this_thread::sleep_for(5ms);
    }
    const auto sent_at = ShaperClock::now();
    client->wait_closed(kAtOnce + 1s);
    expect_no_spin(watch, "a byte at a time");
    const std::vector<ParsedResponse> responses = parse_responses(client->plaintext());
    ASSERT_EQ(responses.size(), 2u) << client->plaintext();
    for (const ParsedResponse& response : responses) {
        EXPECT_EQ(response.status, 200);
        EXPECT_EQ(response.body, jwks_);
    }
    // Connection: close on the second request: closed right after the answer.
    ASSERT_TRUE(client->closed());
    EXPECT_LE(client->closed_at(), sent_at + kAtOnce);
}

// The request record stream (two records) cut at every byte boundary, one connection per cut,
// all held at once at their cuts: nobody waits, then every connection completes and is answered.
TEST_P(RecordLayerE2E, ARequestCutAtEveryByteBoundaryIsAnsweredOnEveryConnection) {
    start({{"request_head", "10s"}});  // the handshakes of all connections come first
    const std::string plain = request(/*close=*/true);
    std::vector<std::unique_ptr<ShapedTlsClient>> clients;
    std::vector<std::string> streams;
    // Every handshake first: a stuck worker would take no more. One connection per cut.
    for (std::size_t cut = 1; streams.empty() || cut < streams.front().size(); ++cut) {
        clients.push_back(shaped());
        ASSERT_TRUE(handshaken(clients.back())) << "cut " << cut;
        streams.push_back(clients.back()->seal(plain.substr(0, plain.size() / 2)));
        streams.back() += clients.back()->seal(plain.substr(plain.size() / 2));
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        ASSERT_TRUE(clients[i]->send(streams[i].substr(0, i + 1))) << "cut " << i + 1;
    }
    const CpuWatch watch(gateway_->pid());
    std::this_thread::sleep_for(300ms);
    expect_good_client_served("with a connection held at every cut");
    expect_no_spin(watch, "connections held at every cut");
    std::vector<ShapedTlsClient*> all;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        ASSERT_TRUE(clients[i]->send(streams[i].substr(i + 1))) << "cut " << i + 1;
        all.push_back(clients[i].get());
    }
    wait_all_closed(all, ShaperClock::now() + 3s);
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const std::vector<ParsedResponse> responses = parse_responses(clients[i]->plaintext());
        ASSERT_EQ(responses.size(), 1u) << "cut " << i + 1 << ": " << clients[i]->plaintext();
        EXPECT_EQ(responses[0].status, 200) << "cut " << i + 1;
        EXPECT_EQ(responses[0].body, jwks_) << "cut " << i + 1;
        EXPECT_TRUE(clients[i]->closed()) << "cut " << i + 1;  // Connection: close
    }
}

// A request head `size` bytes long, padded with an X-Pad header.
std::string padded_request(const std::string& host, std::size_t size, bool close) {
    std::string head = "GET /.well-known/jwks.json HTTP/1.1\r\nHost: " + host + "\r\n" +
                       (close ? "Connection: close\r\n" : "") + "X-Pad: ";
    head.append(size - head.size() - 4, 'p');
    return head + "\r\n\r\n";
}

// Records of the maximum plaintext size (16384 bytes): four pipelined requests filling one
// exactly are all answered (the record arriving in three pieces); one 16384-byte request head,
// twice the head limit, is answered 431 and the connection closed.
TEST_P(RecordLayerE2E, RecordsOfTheMaximumSizeAreHandledWhole) {
    start();
    auto full = shaped();
    ASSERT_TRUE(handshaken(full));
    std::string four;
    for (int i = 0; i < 4; ++i) four += padded_request(host_header(), 4096, /*close=*/i == 3);
    ASSERT_EQ(four.size(), 16384u);
    const std::string record = full->seal(four);
    ASSERT_EQ(split_records(record).size(), 1u);

    auto oversized = shaped();
    ASSERT_TRUE(handshaken(oversized));
    const std::string big_head = oversized->seal(padded_request(host_header(), 16384, false));
    ASSERT_EQ(split_records(big_head).size(), 1u);

    const CpuWatch watch(gateway_->pid());
    ASSERT_TRUE(full->send(record.substr(0, 3)));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(full->send(record.substr(3, 9000)));
    expect_good_client_served("with most of a 16 KB record held");
    ASSERT_TRUE(full->send(record.substr(9003)));
    const auto oversized_at = ShaperClock::now();
    ASSERT_TRUE(oversized->send(big_head));
    wait_all_closed({full.get(), oversized.get()}, ShaperClock::now() + 2s);
    expect_no_spin(watch, "maximum-size records");

    const std::vector<ParsedResponse> responses = parse_responses(full->plaintext());
    ASSERT_EQ(responses.size(), 4u) << full->plaintext().substr(0, 200);
    for (const ParsedResponse& response : responses) {
        EXPECT_EQ(response.status, 200);
        EXPECT_EQ(response.body, jwks_);
    }
    EXPECT_TRUE(full->closed());
    EXPECT_EQ(oversized->plaintext().rfind("HTTP/1.1 431 ", 0), 0u) << oversized->plaintext();
    EXPECT_EQ(parse_responses(oversized->plaintext()).size(), 1u);
    ASSERT_TRUE(oversized->closed());
    EXPECT_LE(oversized->closed_at(), oversized_at + kAtOnce);
}

// Random cuts and delays of valid request streams on concurrent connections: 1 to 3 pipelined
// requests each, written as 1 to 3 records per request, cut into 1 to 8 pieces sent at random
// moments within 600 ms. Every request is answered. RECORD_LAYER_SEED=<n> replays a run.
TEST_P(RecordLayerE2E, RandomCutsAndDelaysOfValidStreamsAreAllAnswered) {
    start({{"request_head", "6s"}});
    std::uint64_t seed = std::random_device{}();
    if (const char* fixed = std::getenv("RECORD_LAYER_SEED"))
        seed = std::strtoull(fixed, nullptr, 10);
    SCOPED_TRACE("RECORD_LAYER_SEED=" + std::to_string(seed));
    std::mt19937_64 random(seed);
    const auto uniform = [&](std::size_t low, std::size_t high) {
        return std::uniform_int_distribution<std::size_t>(low, high)(random);
    };

    struct Piece {
        std::chrono::milliseconds at;
        std::size_t client;
        std::string bytes;
    };
    std::vector<std::unique_ptr<ShapedTlsClient>> clients;
    std::vector<std::size_t> expected;
    std::vector<Piece> schedule;
    for (std::size_t c = 0; c < 12; ++c) {
        clients.push_back(shaped());
        ASSERT_TRUE(handshaken(clients.back()));
        const std::size_t requests = uniform(1, 3);
        expected.push_back(requests);
        std::string stream;
        for (std::size_t r = 0; r < requests; ++r) {
            const std::string plain = request(/*close=*/r + 1 == requests);
            std::size_t from = 0;
            for (std::size_t left = uniform(1, 3); left > 1; --left) {
                const std::size_t to = uniform(from, plain.size());
                stream += clients.back()->seal(plain.substr(from, to - from));
                from = to;
            }
            stream += clients.back()->seal(plain.substr(from));
        }
        std::vector<std::size_t> cuts{0, stream.size()};
        for (std::size_t i = uniform(0, 7); i > 0; --i)
            cuts.push_back(uniform(1, stream.size() - 1));
        std::sort(cuts.begin(), cuts.end());
        std::vector<std::size_t> moments;
        for (std::size_t i = 1; i < cuts.size(); ++i) moments.push_back(uniform(0, 600));
        std::sort(moments.begin(), moments.end());
        for (std::size_t i = 1; i < cuts.size(); ++i) {
            schedule.push_back({std::chrono::milliseconds(moments[i - 1]), c,
                                stream.substr(cuts[i - 1], cuts[i] - cuts[i - 1])});
        }
    }
    std::stable_sort(schedule.begin(), schedule.end(),
                     [](const Piece& a, const Piece& b) { return a.at < b.at; });

    const CpuWatch watch(gateway_->pid());
    const auto begin = std::chrono::steady_clock::now();
    bool probed = false;
    for (const Piece& piece : schedule) {
        std::this_thread::sleep_until(begin + piece.at);
        if (!probed && piece.at >= 300ms) {
            probed = true;
            expect_good_client_served("half-way through the random schedule");
        }
        clients[piece.client]->send(piece.bytes);
    }
    if (!probed) expect_good_client_served("after the random schedule");
    std::vector<ShapedTlsClient*> all;
    for (const auto& client : clients) all.push_back(client.get());
    wait_all_closed(all, ShaperClock::now() + 3s);
    expect_no_spin(watch, "random cuts and delays");
    for (std::size_t c = 0; c < clients.size(); ++c) {
        const std::vector<ParsedResponse> responses = parse_responses(clients[c]->plaintext());
        EXPECT_EQ(responses.size(), expected[c]) << "connection " << c;
        for (const ParsedResponse& response : responses) {
            EXPECT_EQ(response.status, 200) << "connection " << c;
            EXPECT_EQ(response.body, jwks_) << "connection " << c;
        }
        EXPECT_TRUE(clients[c]->closed()) << "connection " << c;
    }
}

INSTANTIATE_TEST_SUITE_P(RecordLayer, RecordLayerE2E, ::testing::Values(1, 2), worker_count_name);

}  // namespace
}  // namespace oidcgw::testing
