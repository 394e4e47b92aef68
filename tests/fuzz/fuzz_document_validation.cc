// libFuzzer target: upstream documents are attacker-influenced bytes, so both validators must
// refuse or accept any input without crashing, and what they report must be well formed.
#include "publish/document_validation.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

const oidcgw::IssuerUrl& fixture_issuer() {
    static const oidcgw::IssuerUrl issuer = [] {
        std::string error;
        std::optional<oidcgw::IssuerUrl> parsed =
            oidcgw::parse_issuer_url("https://oidc.nomad.example.com", &error);
        if (!parsed) std::abort();
        return *parsed;
    }();
    return issuer;
}

// Every accepted document upholds the validators' promises.
void check_discovery(std::string_view body) {
    oidcgw::Rejection rejection;
    const std::optional<oidcgw::DiscoveryInfo> info =
        oidcgw::validate_discovery(body, fixture_issuer(), &rejection);
    if (info) {
        if (!info->jwks_path.starts_with("/") || !info->jwks_upstream_path.starts_with("/")) {
            std::abort();
        }
    } else if (rejection.code.empty() || rejection.detail.empty()) {
        std::abort();
    }
}

void check_jwks(std::string_view body) {
    oidcgw::Rejection rejection;
    const std::optional<oidcgw::JwksInfo> info = oidcgw::validate_jwks(body, &rejection);
    if (info) {
        if (info->keys.empty() || info->keys.size() > 1000) std::abort();
        for (const oidcgw::KeySummary& key : info->keys) {
            if (key.kid.empty() || (key.kty != "RSA" && key.kty != "EC" && key.kty != "OKP")) {
                std::abort();
            }
        }
    } else if (rejection.code.empty() || rejection.detail.empty()) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    check_discovery(body);
    check_jwks(body);
    return 0;
}
