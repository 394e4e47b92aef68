#include "acme/renewal_info.h"

#include "common/base64url.h"
#include "common/error_report.h"
#include "common/strict_json.h"
#include "common/text_escape.h"
#include "common/utc_time.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cmath>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxQuotedTime = 64;  // enough of a bad time to recognise it in a message

// The content octets of a DER TLV: what follows the tag and the (short or long form) length.
std::optional<std::string_view> der_content(std::string_view der) {
    if (der.size() < 2) return std::nullopt;
    const auto first_length_byte = static_cast<unsigned char>(der[1]);
    std::size_t header = 2;
    if ((first_length_byte & 0x80) != 0) header += first_length_byte & 0x7f;
    if (der.size() < header) return std::nullopt;
    return der.substr(header);
}

std::optional<std::string> serial_content(X509* certificate) {
    const ASN1_INTEGER* serial = X509_get0_serialNumber(certificate);
    const int length = serial != nullptr ? i2d_ASN1_INTEGER(serial, nullptr) : 0;
    if (length <= 0) return std::nullopt;
    std::string der(static_cast<std::size_t>(length), '\0');
    auto* cursor = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ASN1_INTEGER(serial, &cursor) != length) return std::nullopt;
    const std::optional<std::string_view> content = der_content(der);
    if (!content || content->empty()) return std::nullopt;
    return std::string(*content);
}

std::optional<std::time_t> window_time(const json& window, const char* name, std::string* error) {
    const auto member = window.find(name);
    if (member == window.end() || !member->is_string()) {
        fail(error, std::string("suggestedWindow has no string \"") + name + "\"");
        return std::nullopt;
    }
    const std::string& text = member->get_ref<const std::string&>();
    const std::optional<std::time_t> time = parse_rfc3339(text);
    if (!time) {
        fail(error, std::string("suggestedWindow.") + name + " " +
                        quote_untrusted(text, kMaxQuotedTime) + " is not an RFC 3339 date-time");
    }
    return time;
}

}  // namespace

std::optional<std::string> ari_certificate_id(X509* certificate) {
    if (certificate == nullptr) return std::nullopt;
    const ASN1_OCTET_STRING* key_identifier = X509_get0_authority_key_id(certificate);
    ERR_clear_error();  // a malformed extension leaves an error behind a null result
    if (key_identifier == nullptr || ASN1_STRING_length(key_identifier) <= 0) return std::nullopt;
    const std::optional<std::string> serial = serial_content(certificate);
    if (!serial) return std::nullopt;
    const std::string_view key_id(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(key_identifier)),
        static_cast<std::size_t>(ASN1_STRING_length(key_identifier)));
    return encode_base64url(key_id) + "." + encode_base64url(*serial);
}

std::optional<RenewalWindow> parse_renewal_info(std::string_view body, std::string* error) {
    std::string parse_error;
    const std::optional<json> document = parse_strict_json(body, &parse_error);
    if (!document) {
        fail(error, "the renewal information does not parse as JSON: " + parse_error);
        return std::nullopt;
    }
    if (!document->is_object()) {
        fail(error, "the renewal information is not a JSON object");
        return std::nullopt;
    }
    const auto window = document->find("suggestedWindow");
    if (window == document->end() || !window->is_object()) {
        fail(error, "the renewal information has no \"suggestedWindow\" object");
        return std::nullopt;
    }
    const std::optional<std::time_t> start = window_time(*window, "start", error);
    const std::optional<std::time_t> end =
        start ? window_time(*window, "end", error) : std::nullopt;
    if (!start || !end) return std::nullopt;
    if (*end <= *start) {
        fail(error, "suggestedWindow ends at " + utc_iso8601(*end) + ", not after its start " +
                        utc_iso8601(*start));
        return std::nullopt;
    }
    return RenewalWindow{*start, *end};
}

std::time_t pick_renewal_time(const RenewalWindow& window, double uniform01) {
    // NaN compares false both ways; treat it as 0 so the result stays inside the window.
    const double fraction = std::isnan(uniform01) ? 0.0 : std::clamp(uniform01, 0.0, 1.0);
    const double span = static_cast<double>(window.end - window.start);
    return window.start + static_cast<std::time_t>(span * fraction);
}

}  // namespace oidcgw
