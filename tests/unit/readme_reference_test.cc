// The README's configuration reference, the commented example and the parser must agree: every
// key the example uses is documented, every documented key appears in the example, and the
// parser (which refuses unknown keys) accepts the example.
#include "common/strict_json.h"
#include "config/config.h"
#include "test_pki.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#ifndef OIDCGW_SOURCE_DIR
#define OIDCGW_SOURCE_DIR "/work/main"
#endif

namespace oidcgw {
namespace {

std::set<std::string> readme_config_keys() {
    std::istringstream readme(testing::read_file(std::string(OIDCGW_SOURCE_DIR) + "/README.md"));
    std::set<std::string> keys;
    bool in_reference = false;
    for (std::string line; std::getline(readme, line);) {
        if (line.starts_with("## ")) in_reference = line == "## Configuration reference";
        if (!in_reference || !line.starts_with("| `")) continue;
        const std::size_t end = line.find('`', 3);
        keys.insert(line.substr(3, end - 3));
    }
    return keys;
}

void collect_keys(const nlohmann::json& value, const std::string& prefix,
                  std::set<std::string>* keys) {
    if (value.is_object()) {
        for (const auto& [name, member] : value.items()) {
            const std::string path = prefix.empty() ? name : prefix + "." + name;
            keys->insert(path);
            collect_keys(member, path, keys);
        }
    } else if (value.is_array()) {
        for (const auto& element : value) collect_keys(element, prefix + "[]", keys);
    }
}

// conf/gateway.json with its commented blocks (tls.acme between "// ACME begin" and
// "// ACME end", the PROXY protocol ones between "// PROXY begin" and "// PROXY end") taken in:
// each line there loses its leading "// ", so the blocks must stay valid JSON.
std::string example_with_optional_blocks(const std::string& example) {
    std::istringstream lines(example);
    std::string out;
    bool in_block = false;
    for (std::string line; std::getline(lines, line);) {
        const std::size_t text = line.find_first_not_of(' ');
        const std::string_view trimmed =
            text == std::string::npos ? std::string_view() : std::string_view(line).substr(text);
        if (trimmed == "// ACME begin" || trimmed == "// PROXY begin") {
            in_block = true;
            continue;
        }
        if (trimmed == "// ACME end" || trimmed == "// PROXY end") {
            in_block = false;
            continue;
        }
        if (in_block && trimmed.starts_with("// ")) {
            line = line.substr(0, text) + std::string(trimmed.substr(3));
        }
        out += line + "\n";
    }
    return out;
}

TEST(ReadmeReference, DocumentsExactlyTheKeysOfTheCommentedExample) {
    const std::string example = example_with_optional_blocks(
        testing::read_file(std::string(OIDCGW_SOURCE_DIR) + "/conf/gateway.json"));
    ASSERT_NE(example.find("\"acme\""), std::string::npos);
    ASSERT_NE(example.find("\"proxy_protocol_from\""), std::string::npos);
    std::string error;
    const auto parsed =
        parse_strict_json(example, &error, {.allow_comments = true, .max_depth = 32});
    ASSERT_TRUE(parsed) << error;
    std::set<std::string> example_keys;
    collect_keys(*parsed, "", &example_keys);

    const std::set<std::string> documented = readme_config_keys();
    ASSERT_GT(documented.size(), 10u);
    EXPECT_EQ(documented, example_keys);

    const ConfigResult result = parse_config(example);
    EXPECT_TRUE(result.config) << result.error.to_string();
}

}  // namespace
}  // namespace oidcgw
