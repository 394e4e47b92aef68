#include "common/certificate_chain.h"

#include "common/file_reading.h"
#include "common/text_escape.h"
#include "common/utc_time.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

namespace oidcgw {
namespace {

// Buffers that PEM_read_bio allocates with OPENSSL_malloc (a macro, hence not a CDeleter).
struct OpensslFree {
    void operator()(void* buffer) const noexcept { OPENSSL_free(buffer); }
};
using OpensslCharPtr = std::unique_ptr<char, OpensslFree>;
using OpensslBytePtr = std::unique_ptr<unsigned char, OpensslFree>;
using FilePtr = std::unique_ptr<std::FILE, CDeleter<std::fclose>>;

// Certificate and key files are small; anything this big is a mistake, not a PEM file.
constexpr std::size_t kMaxPemFileBytes = 4 * 1024 * 1024;

void set_error(std::string* error, std::string message) {
    if (error != nullptr) *error = std::move(message);
}

// Read by us rather than BIO_new_file: bounded, never blocking on a FIFO, errors with reasons.
bool read_pem_file(const std::string& path, std::string* content, std::string* error) {
    std::string problem;
    if (!read_regular_file(path, kMaxPemFileBytes, content, &problem)) {
        set_error(error, "cannot read " + quote_path(path) + ": " + problem);
        return false;
    }
    return true;
}

BioPtr memory_bio(const std::string& content) {
    return BioPtr(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
}

// The reason of the most recent OpenSSL error, then clears the queue so later checks start clean.
std::string take_openssl_reason() {
    const unsigned long code = ERR_peek_last_error();
    std::string reason;
    if (code != 0) {
        const char* text = ERR_reason_error_string(code);
        reason = text != nullptr ? text : "unknown OpenSSL error";
    }
    ERR_clear_error();
    return reason.empty() ? "unknown OpenSSL error" : reason;
}

// Called by OpenSSL when a key is encrypted: refuse (never prompt on a terminal) and remember.
int refuse_passphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* asked) {
    *static_cast<bool*>(asked) = true;
    return -1;
}

std::time_t asn1_time_to_time_t(const ASN1_TIME* time) {
    std::tm broken_down{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &broken_down) != 1) return 0;
    return timegm(&broken_down);
}

// Calls `visit` with each subjectAltName entry of `certificate`, in order.
template <typename Visit>
void for_each_alt_name(X509* certificate, Visit visit) {
    GeneralNamesPtr general_names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
    if (!general_names) return;
    for (int index = 0; index < sk_GENERAL_NAME_num(general_names.get()); ++index) {
        visit(*sk_GENERAL_NAME_value(general_names.get(), index));
    }
}

std::string dns_name_text(const GENERAL_NAME& entry) {
    const ASN1_IA5STRING* dns = entry.d.dNSName;
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                       static_cast<std::size_t>(ASN1_STRING_length(dns)));
}

}  // namespace

std::vector<X509Ptr> load_certificate_chain(const std::string& path, std::string* error) {
    std::string content;
    if (!read_pem_file(path, &content, error)) return {};
    BioPtr bio = memory_bio(content);
    if (!bio) {
        set_error(error, "cannot read " + quote_path(path) + ": out of memory");
        return {};
    }

    // Walk every PEM block: each must be a certificate that parses completely. Text between
    // blocks (comments in CA bundles) is ignored, as every PEM reader does.
    std::vector<X509Ptr> chain;
    ERR_clear_error();
    while (true) {
        char* raw_name = nullptr;
        char* raw_header = nullptr;
        unsigned char* raw_data = nullptr;
        long length = 0;
        const int read = PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &length);
        OpensslCharPtr name(raw_name);
        OpensslCharPtr header(raw_header);
        OpensslBytePtr data(raw_data);
        if (read != 1) {
            const unsigned long code = ERR_peek_last_error();
            if (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
                break;  // no further block: the normal end of the file
            }
            set_error(error, quote_path(path) + " holds a PEM block that does not parse (" +
                                 take_openssl_reason() + ")");
            return {};
        }
        const std::size_t block_number = chain.size() + 1;
        if (std::strcmp(name.get(), PEM_STRING_X509) != 0) {
            // Only the block's label goes into the message: it could be a private key.
            set_error(error, quote_path(path) + " holds a \"" + name.get() + "\" block (number " +
                                 std::to_string(block_number) +
                                 "); only CERTIFICATE blocks belong in a certificate file");
            return {};
        }
        const unsigned char* cursor = data.get();
        X509Ptr certificate(d2i_X509(nullptr, &cursor, length));
        if (!certificate || cursor != data.get() + length) {
            set_error(error, quote_path(path) + ": certificate " + std::to_string(block_number) +
                                 " does not parse (" + take_openssl_reason() + ")");
            return {};
        }
        chain.push_back(std::move(certificate));
    }
    if (chain.empty()) {
        set_error(error, quote_path(path) + " holds no PEM certificate");
    }
    return chain;
}

std::string certificates_pem(const std::vector<X509Ptr>& certificates) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    for (const X509Ptr& certificate : certificates) {
        if (PEM_write_bio_X509(bio.get(), certificate.get()) != 1) return {};
    }
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

EvpPkeyPtr load_private_key(const std::string& path, std::string* error) {
    std::string content;
    if (!read_pem_file(path, &content, error)) return nullptr;
    BioPtr bio = memory_bio(content);
    if (!bio) {
        set_error(error, "cannot read " + quote_path(path) + ": out of memory");
        return nullptr;
    }
    ERR_clear_error();
    bool passphrase_asked = false;
    EvpPkeyPtr key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, &passphrase_asked));
    if (!key) {
        const std::string reason = take_openssl_reason();
        if (passphrase_asked) {
            set_error(error,
                      quote_path(path) +
                          " holds an encrypted private key; the gateway needs it unencrypted "
                          "(protect it with file permissions)");
        } else {
            set_error(error,
                      quote_path(path) + " holds no usable PEM private key (" + reason + ")");
        }
        return nullptr;
    }
    return key;
}

bool check_chain_order(const std::vector<X509Ptr>& chain, std::string* error) {
    if (chain.empty()) {
        set_error(error, "the certificate chain is empty");
        return false;
    }
    for (std::size_t index = 0; index + 1 < chain.size(); ++index) {
        X509* subject = chain[index].get();
        X509* issuer = chain[index + 1].get();
        const int issued = X509_check_issued(issuer, subject);
        // X509_check_issued compares names and key identifiers; the signature proves it.
        EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
        const bool signed_by_next =
            issued == X509_V_OK && issuer_key != nullptr && X509_verify(subject, issuer_key) == 1;
        ERR_clear_error();
        if (!signed_by_next) {
            set_error(error, "certificate " + std::to_string(index + 2) + " (" +
                                 certificate_subject(issuer) + ") did not issue certificate " +
                                 std::to_string(index + 1) + " (" + certificate_subject(subject) +
                                 "); the file must hold the leaf first, then each issuer in turn");
            return false;
        }
    }
    return true;
}

bool check_key_matches(X509* certificate, EVP_PKEY* key, std::string* error) {
    ERR_clear_error();
    const bool matches =
        certificate != nullptr && key != nullptr && X509_check_private_key(certificate, key) == 1;
    ERR_clear_error();
    if (!matches) {
        set_error(error, "the private key does not belong to the certificate (" +
                             (certificate != nullptr ? certificate_subject(certificate)
                                                     : std::string("no certificate")) +
                             ")");
    }
    return matches;
}

std::string certificate_subject(X509* certificate) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    // RFC 2253 order and escaping, but UTF-8 kept readable rather than \-escaped.
    const unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0, flags) < 0) return {};
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

std::vector<std::string> certificate_sans(X509* certificate) {
    std::vector<std::string> names;
    for_each_alt_name(certificate, [&](const GENERAL_NAME& entry) {
        if (entry.type == GEN_DNS) {
            names.push_back(dns_name_text(entry));
        } else if (entry.type == GEN_IPADD) {
            const ASN1_OCTET_STRING* address = entry.d.iPAddress;
            const int length = ASN1_STRING_length(address);
            const int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;
            char text[INET6_ADDRSTRLEN] = {};
            if (family != 0 &&
                inet_ntop(family, ASN1_STRING_get0_data(address), text, sizeof text) != nullptr) {
                names.emplace_back(text);
            }
        }
    });
    return names;
}

std::time_t certificate_not_after(X509* certificate) {
    return asn1_time_to_time_t(X509_get0_notAfter(certificate));
}

std::time_t certificate_not_before(X509* certificate) {
    return asn1_time_to_time_t(X509_get0_notBefore(certificate));
}

std::vector<std::string> certificate_dns_names(X509* certificate) {
    std::vector<std::string> names;
    for_each_alt_name(certificate, [&](const GENERAL_NAME& entry) {
        if (entry.type == GEN_DNS) names.push_back(dns_name_text(entry));
    });
    return names;
}

CertificateLoad load_certificate_material(const std::string& certificate_path,
                                          const std::string& private_key_path,
                                          std::optional<std::time_t> refuse_expired_at) {
    CertificateLoad result;
    const auto fail = [&](CertificateFile file, std::string message) {
        result.error = CertificateLoadError{file, std::move(message)};
        return std::move(result);
    };
    std::string problem;
    std::vector<X509Ptr> chain = load_certificate_chain(certificate_path, &problem);
    if (chain.empty()) return fail(CertificateFile::Certificate, problem);
    EvpPkeyPtr key = load_private_key(private_key_path, &problem);
    if (!key) return fail(CertificateFile::PrivateKey, problem);
    if (!check_chain_order(chain, &problem)) return fail(CertificateFile::Certificate, problem);
    if (!check_key_matches(chain.front().get(), key.get(), &problem)) {
        return fail(CertificateFile::PrivateKey, problem + " in " + quote_path(certificate_path));
    }
    CertificateMaterial material;
    X509* leaf = chain.front().get();
    material.certificate_path = certificate_path;
    material.subject = certificate_subject(leaf);
    material.not_before = certificate_not_before(leaf);
    material.not_after = certificate_not_after(leaf);
    material.dns_names = certificate_dns_names(leaf);
    material.chain = std::move(chain);
    material.private_key = std::move(key);
    if (refuse_expired_at) {
        if (auto expired = check_not_expired(material, *refuse_expired_at)) {
            return fail(expired->file, std::move(expired->message));
        }
    }
    result.material = std::move(material);
    return result;
}

std::optional<CertificateLoadError> check_not_expired(const CertificateMaterial& material,
                                                      std::time_t now) {
    if (material.not_after > now) return std::nullopt;
    return CertificateLoadError{CertificateFile::Certificate,
                                "certificate " + quote_path(material.subject) + " in " +
                                    quote_path(material.certificate_path) + " expired on " +
                                    utc_readable(material.not_after) + " (notAfter)"};
}

}  // namespace oidcgw
