#include "common/strict_json.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

TEST(StrictJson, ParsesNestedDocument) {
    std::string error;
    const auto value =
        parse_strict_json(R"({"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":"d"})", &error);
    ASSERT_TRUE(value.has_value()) << error;
    EXPECT_EQ((*value)["a"][0], 1);
    EXPECT_EQ((*value)["a"][1], -2);
    EXPECT_DOUBLE_EQ((*value)["a"][2].get<double>(), 3.5);
    EXPECT_EQ((*value)["a"][3], "x");
    EXPECT_EQ((*value)["a"][4], true);
    EXPECT_TRUE((*value)["a"][5].is_null());
    EXPECT_TRUE((*value)["a"][6]["b"].is_object());
    EXPECT_EQ((*value)["c"], "d");
    EXPECT_EQ(value->size(), 2u);
}

TEST(StrictJson, ParsesScalarsAtTopLevel) {
    std::string error;
    EXPECT_EQ(parse_strict_json("42", &error), nlohmann::json(42));
    EXPECT_EQ(parse_strict_json(R"("text")", &error), nlohmann::json("text"));
    EXPECT_EQ(parse_strict_json("18446744073709551615", &error),
              nlohmann::json(18446744073709551615ULL));
}

TEST(StrictJson, KeepsElementsOfArraysOfContainersInOrder) {
    std::string error;
    const auto value = parse_strict_json(R"([{"k":1},{"k":2},[3],{"k":4}])", &error);
    ASSERT_TRUE(value.has_value()) << error;
    EXPECT_EQ(value->dump(), R"([{"k":1},{"k":2},[3],{"k":4}])");
}

TEST(StrictJson, RejectsDuplicateMemberNamingIt) {
    std::string error;
    EXPECT_FALSE(parse_strict_json(R"({"issuer":"a","jwks_uri":"b","issuer":"c"})", &error));
    EXPECT_EQ(error, R"(duplicate member "issuer")");
}

TEST(StrictJson, RejectsDuplicateMemberInNestedObject) {
    std::string error;
    EXPECT_FALSE(parse_strict_json(R"({"keys":[{"kid":"1"},{"kid":"2","kid":"3"}]})", &error));
    EXPECT_EQ(error, R"(duplicate member "kid" in keys[1])");
}

TEST(StrictJson, RejectsDuplicateAfterContainerValue) {
    std::string error;
    EXPECT_FALSE(parse_strict_json(R"({"a":{"x":[1]},"a":2})", &error));
    EXPECT_EQ(error, R"(duplicate member "a")");
}

TEST(StrictJson, NamesThePathOfADeepDuplicateQuotingUnusualNames) {
    std::string error;
    EXPECT_FALSE(parse_strict_json(R"({"a b":[[{"c":{"d":1,"d":2}}]]})", &error));
    EXPECT_EQ(error, R"(duplicate member "d" in "a b"[0][0].c)");
}

TEST(StrictJson, RejectsDuplicateSpelledWithEscape) {
    std::string error;
    EXPECT_FALSE(parse_strict_json(R"({"kid":1,"k\u0069d":2})", &error));
    EXPECT_EQ(error, R"(duplicate member "kid")");
}

TEST(StrictJson, AllowsSameNameInDifferentObjects) {
    std::string error;
    EXPECT_TRUE(parse_strict_json(R"({"a":{"a":{"a":1}},"b":{"a":2}})", &error)) << error;
}

TEST(StrictJson, QuotesLongDuplicateNameTruncated) {
    const std::string name(500, 'n');
    std::string error;
    EXPECT_FALSE(parse_strict_json("{\"" + name + "\":1,\"" + name + "\":2}", &error));
    EXPECT_TRUE(error.starts_with("duplicate member \"nnn"));
    EXPECT_LT(error.size(), 120u);
}

TEST(StrictJson, EnforcesMaximumDepth) {
    std::string error;
    const StrictJsonOptions options{.allow_comments = false, .max_depth = 3};
    EXPECT_TRUE(parse_strict_json("[[[1]]]", &error, options)) << error;
    EXPECT_TRUE(parse_strict_json(R"({"a":{"b":[]}})", &error, options)) << error;
    EXPECT_FALSE(parse_strict_json("[[[[1]]]]", &error, options));
    EXPECT_NE(error.find("deeper than 3"), std::string::npos) << error;
    EXPECT_FALSE(parse_strict_json(R"({"a":{"b":[{}]}})", &error, options));
}

TEST(StrictJson, DefaultDepthLimitIs32) {
    std::string error;
    const std::string deep_ok = std::string(32, '[') + std::string(32, ']');
    const std::string too_deep = std::string(33, '[') + std::string(33, ']');
    EXPECT_TRUE(parse_strict_json(deep_ok, &error)) << error;
    EXPECT_FALSE(parse_strict_json(too_deep, &error));
    // A hostile document far deeper than the limit fails quickly and without a crash.
    EXPECT_FALSE(parse_strict_json(std::string(1'000'000, '['), &error));
}

TEST(StrictJson, RejectsCommentsUnlessAllowed) {
    const std::string text = "// leading\n{\"a\": /* inline */ 1}";
    std::string error;
    EXPECT_FALSE(parse_strict_json(text, &error));
    EXPECT_NE(error.find("byte offset 0"), std::string::npos) << error;

    const auto value = parse_strict_json(text, &error, {.allow_comments = true});
    ASSERT_TRUE(value.has_value()) << error;
    EXPECT_EQ((*value)["a"], 1);
}

TEST(StrictJson, ReportsByteOffsetOfSyntaxError) {
    std::string error;
    EXPECT_FALSE(parse_strict_json(R"({"a":1,})", &error));
    EXPECT_NE(error.find("byte offset 7"), std::string::npos) << error;
    EXPECT_NE(error.find("line 1, column 8"), std::string::npos) << error;

    EXPECT_FALSE(parse_strict_json("[1,2", &error));
    EXPECT_NE(error.find("byte offset 4"), std::string::npos) << error;
}

TEST(StrictJson, RejectsTrailingContent) {
    std::string error;
    EXPECT_FALSE(parse_strict_json(R"({"a":1} {"a":2})", &error));
    EXPECT_NE(error.find("byte offset"), std::string::npos) << error;
}

TEST(StrictJson, RejectsEmptyInput) {
    std::string error;
    EXPECT_FALSE(parse_strict_json("", &error));
    EXPECT_FALSE(error.empty());
}

TEST(StrictJson, RejectsInvalidUtf8AndControlCharacters) {
    std::string error;
    EXPECT_FALSE(parse_strict_json("\"\xff\"", &error));
    EXPECT_FALSE(parse_strict_json("\"a\x01\"", &error));
    EXPECT_FALSE(parse_strict_json(std::string("[1,\0 2]", 7), &error));
}

TEST(StrictJson, ErrorDoesNotEchoTheBrokenToken) {
    // The token being read can be a piece of key material; it must stay out of the message.
    std::string error;
    EXPECT_FALSE(parse_strict_json("{\"d\":\"SECRETVALUE\x01\"}", &error));
    EXPECT_EQ(error.find("SECRETVALUE"), std::string::npos) << error;
}

TEST(StrictJson, NumberOverflowIsAnErrorNotAnException) {
    std::string error;
    EXPECT_FALSE(parse_strict_json("[1e999]", &error));
    EXPECT_NE(error.find("overflow"), std::string::npos) << error;
}

TEST(StrictJson, AcceptsNullErrorPointer) {
    EXPECT_FALSE(parse_strict_json(R"({"a":1,"a":1})", nullptr));
    EXPECT_TRUE(parse_strict_json(R"({"a":1})", nullptr));
}

// Member names are quoted by the untrusted-text policy (common/text_escape.h), cut at 80 bytes.
TEST(StrictJson, DuplicateMemberNamesAreQuotedByTheUntrustedTextPolicy) {
    std::string error;
    EXPECT_FALSE(parse_strict_json("{\"a\\u001bb\":1,\"a\\u001bb\":2}", &error));
    EXPECT_EQ(error, R"(duplicate member "a\x1bb")");
    const std::string longer(200, 'n');
    EXPECT_FALSE(parse_strict_json("{\"" + longer + "\":1,\"" + longer + "\":2}", &error));
    EXPECT_LE(error.size(), std::string("duplicate member ").size() + 80) << error;
    EXPECT_TRUE(error.ends_with("...\"")) << error;
}

}  // namespace
}  // namespace oidcgw::testing
