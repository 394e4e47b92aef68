#include "common/curl_transfer.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

TEST(CurlTransfer, CappedBodyTakesWritesUpToTheCapExactly) {
    std::string body;
    CappedBody sink{&body, 8};
    EXPECT_TRUE(append_capped(sink, "abcd"));
    EXPECT_TRUE(append_capped(sink, "efgh"));
    EXPECT_EQ(body, "abcdefgh");
    EXPECT_FALSE(sink.over_cap);
    EXPECT_FALSE(append_capped(sink, "i"));
    EXPECT_TRUE(sink.over_cap);
    EXPECT_EQ(body, "abcdefgh");  // the refused write leaves nothing behind
}

TEST(CurlTransfer, WriteCallbackCutsTheTransferAtTheCap) {
    std::string body;
    CappedBody sink{&body, 5};
    char chunk[] = "abc";
    EXPECT_EQ(write_capped_body(chunk, 1, 3, &sink), 3u);
    // libcurl treats any count other than the one it passed as an error and ends the transfer.
    EXPECT_EQ(write_capped_body(chunk, 1, 3, &sink), 0u);
    EXPECT_TRUE(sink.over_cap);
    EXPECT_EQ(body, "abc");
    std::string other;
    CappedBody empty_cap{&other, 0};
    EXPECT_EQ(write_capped_body(chunk, 1, 0, &empty_cap), 0u);  // nothing, and nothing over
    EXPECT_FALSE(empty_cap.over_cap);
}

TEST(CurlTransfer, ConnectToEntryBracketsIpv6Literals) {
    EXPECT_EQ(connect_to_entry("server.global.nomad", 4646, "10.0.0.5", 4646),
              "server.global.nomad:4646:10.0.0.5:4646");
    EXPECT_EQ(connect_to_entry("oidc.example.com", 443, "::1", 8443),
              "oidc.example.com:443:[::1]:8443");
    EXPECT_EQ(connect_to_entry("fd00::1", 443, "127.0.0.1", 443), "[fd00::1]:443:127.0.0.1:443");
}

TEST(CurlTransfer, MakeCurlListKeepsTheLinesInOrder) {
    const CurlSlistPtr list = make_curl_list({"Accept: application/json", "X-Other: 1"});
    ASSERT_TRUE(list);
    ASSERT_NE(list->next, nullptr);
    EXPECT_STREQ(list->data, "Accept: application/json");
    EXPECT_STREQ(list->next->data, "X-Other: 1");
    EXPECT_EQ(list->next->next, nullptr);
    EXPECT_FALSE(make_curl_list({}));
}

}  // namespace
}  // namespace oidcgw
