#include "test_pki.h"

#include "common/ascii.h"
#include "openssl_failure.h"

#include <re2/re2.h>

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace oidcgw::testing {
namespace {

EvpPkeyPtr generate_key(KeyType type) {
    EvpPkeyPtr key = generate_private_key(type);
    if (!key) throw_openssl_error("key generation failed");
    return key;
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX context;
    X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
    X509ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value.c_str()));
    if (!extension) throw_openssl_error("cannot build extension " + value);
    if (X509_add_ext(certificate, extension.get(), -1) != 1) {
        throw_openssl_error("cannot add extension " + value);
    }
}

// Everything a certificate needs before its extensions: version, serial, names, validity, key.
X509Ptr new_certificate(long serial, const std::string& common_name, X509* issuer, EVP_PKEY* key,
                        long valid_from_offset_seconds, long valid_for_seconds) {
    X509Ptr certificate(X509_new());
    if (!certificate) throw_openssl_error("X509_new failed");
    if (X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), serial) != 1) {
        throw_openssl_error("cannot set version or serial");
    }
    X509_NAME* subject = X509_get_subject_name(certificate.get());
    if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                   -1, 0) != 1) {
        throw_openssl_error("cannot set subject CN " + common_name);
    }
    X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer) : subject;
    if (X509_set_issuer_name(certificate.get(), issuer_name) != 1) {
        throw_openssl_error("cannot set issuer name");
    }
    if (X509_gmtime_adj(X509_getm_notBefore(certificate.get()), valid_from_offset_seconds) ==
            nullptr ||
        X509_gmtime_adj(X509_getm_notAfter(certificate.get()), valid_for_seconds) == nullptr) {
        throw_openssl_error("cannot set validity");
    }
    if (X509_set_pubkey(certificate.get(), key) != 1) throw_openssl_error("cannot set public key");
    return certificate;
}

void sign_certificate(X509* certificate, EVP_PKEY* issuer_key) {
    if (X509_sign(certificate, issuer_key, EVP_sha256()) <= 0) {
        throw_openssl_error("cannot sign certificate");
    }
}

// A CA certificate with the given basicConstraints; `issuer` null means self-signed.
X509Ptr make_ca_certificate_constrained(long serial, const std::string& common_name, EVP_PKEY* key,
                                        X509* issuer, EVP_PKEY* issuer_key,
                                        const std::string& basic_constraints) {
    X509Ptr certificate =
        new_certificate(serial, common_name, issuer, key, -3600, 10L * 365 * 24 * 3600);
    X509* signer = issuer != nullptr ? issuer : certificate.get();
    add_extension(certificate.get(), signer, NID_basic_constraints, basic_constraints);
    add_extension(certificate.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    // The subject key identifier must exist before the authority key identifier of a self-signed
    // certificate can refer to it.
    add_extension(certificate.get(), signer, NID_subject_key_identifier, "hash");
    add_extension(certificate.get(), signer, NID_authority_key_identifier, "keyid:always");
    sign_certificate(certificate.get(), issuer_key != nullptr ? issuer_key : key);
    return certificate;
}

// A CA certificate; `issuer` null means self-signed (the root).
X509Ptr make_ca_certificate(long serial, const std::string& common_name, EVP_PKEY* key,
                            X509* issuer, EVP_PKEY* issuer_key, bool is_root) {
    return make_ca_certificate_constrained(
        serial, common_name, key, issuer, issuer_key,
        is_root ? "critical,CA:TRUE" : "critical,CA:TRUE,pathlen:0");
}

void write_file_with_mode(const std::string& path, const std::string& content, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        throw std::runtime_error("cannot open " + path + " for writing: " + std::strerror(errno));
    }
    // An existing file keeps its old mode through O_CREAT: force the one asked for.
    bool ok = ::fchmod(fd, mode) == 0;
    std::size_t written = 0;
    while (ok && written < content.size()) {
        ssize_t result = ::write(fd, content.data() + written, content.size() - written);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0) {
            ok = false;
            break;
        }
        written += static_cast<std::size_t>(result);
    }
    int saved_errno = errno;
    if (::close(fd) != 0 && ok) {
        ok = false;
        saved_errno = errno;
    }
    if (!ok) {
        throw std::runtime_error("cannot write " + path + ": " + std::strerror(saved_errno));
    }
}

// Keeps file names predictable and inside the directory whatever the common name holds.
std::string file_stem(const std::string& text) {
    std::string stem;
    for (char c : text) {
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
        stem += safe ? c : '_';
    }
    if (stem.empty() || stem[0] == '.') stem.insert(0, "_");
    return stem;
}

std::string subject_alt_names(const CertificateRequest& request) {
    std::string names;
    auto append = [&names](const std::string& kind, const std::string& value) {
        // The configuration syntax separates entries by commas.
        if (value.empty() || value.find(',') != std::string::npos) {
            throw std::runtime_error("test_pki: unusable subjectAltName value '" + value + "'");
        }
        if (!names.empty()) names += ',';
        names += kind + ':' + value;
    };
    for (const auto& dns_name : request.dns_names) append("DNS", dns_name);
    for (const auto& ip_address : request.ip_addresses) append("IP", ip_address);
    return names;
}

}  // namespace

std::string certificate_pem(X509* certificate) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) {
        throw_openssl_error("cannot encode certificate");
    }
    char* data = nullptr;
    long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

std::string private_key_pem(EVP_PKEY* key) {
    std::string pem = oidcgw::private_key_pem(key);
    if (pem.empty()) throw_openssl_error("cannot encode private key");
    return pem;
}

TestPki::TestPki(std::string directory, std::string name)
    : directory_(std::move(directory)), name_(std::move(name)) {
    ca_key_ = generate_key(KeyType::EcdsaP256);
    ca_certificate_ =
        make_ca_certificate(1, name_ + " Root CA", ca_key_.get(), nullptr, nullptr, true);
    intermediate_key_ = generate_key(KeyType::EcdsaP256);
    intermediate_certificate_ =
        make_ca_certificate(next_serial_++, name_ + " Intermediate CA", intermediate_key_.get(),
                            ca_certificate_.get(), ca_key_.get(), false);
    ca_file_ = directory_ + "/" + file_stem(name_) + "-ca.pem";
    write_file(ca_file_, certificate_pem(ca_certificate_.get()));
}

IssuedFiles TestPki::issue(const CertificateRequest& request) {
    if (request.include_two_intermediates && !issuing_certificate_) {
        policy_key_ = generate_key(KeyType::EcdsaP256);
        policy_certificate_ = make_ca_certificate_constrained(
            next_serial_++, name_ + " Policy CA", policy_key_.get(), ca_certificate_.get(),
            ca_key_.get(), "critical,CA:TRUE,pathlen:1");
        issuing_key_ = generate_key(KeyType::EcdsaP256);
        issuing_certificate_ = make_ca_certificate_constrained(
            next_serial_++, name_ + " Issuing CA", issuing_key_.get(), policy_certificate_.get(),
            policy_key_.get(), "critical,CA:TRUE,pathlen:0");
    }
    X509* issuer = request.include_two_intermediates ? issuing_certificate_.get()
                   : request.include_intermediate    ? intermediate_certificate_.get()
                                                     : ca_certificate_.get();
    EVP_PKEY* issuer_key = request.include_two_intermediates ? issuing_key_.get()
                           : request.include_intermediate    ? intermediate_key_.get()
                                                             : ca_key_.get();

    EvpPkeyPtr key = generate_key(request.key_type);
    X509Ptr certificate =
        new_certificate(next_serial_++, request.common_name, issuer, key.get(),
                        request.valid_from_offset_seconds, request.valid_for_seconds);
    add_extension(certificate.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
    // RSA key exchange (TLS 1.2 RSA kx) needs keyEncipherment; ECDSA keys only sign.
    add_extension(certificate.get(), issuer, NID_key_usage,
                  request.key_type == KeyType::Rsa2048 ? "critical,digitalSignature,keyEncipherment"
                                                       : "critical,digitalSignature");
    add_extension(certificate.get(), issuer, NID_ext_key_usage,
                  request.client ? "clientAuth" : "serverAuth");
    if (std::string names = subject_alt_names(request); !names.empty()) {
        add_extension(certificate.get(), issuer, NID_subject_alt_name, names);
    }
    add_extension(certificate.get(), issuer, NID_subject_key_identifier, "hash");
    add_extension(certificate.get(), issuer, NID_authority_key_identifier, "keyid:always");
    sign_certificate(certificate.get(), issuer_key);

    std::string chain = certificate_pem(certificate.get());
    if (request.include_two_intermediates) {
        chain += certificate_pem(issuing_certificate_.get()) +
                 certificate_pem(policy_certificate_.get());
    } else if (request.include_intermediate) {
        chain += certificate_pem(intermediate_certificate_.get());
    }

    std::string stem = directory_ + "/" + file_stem(name_) + "-" + file_stem(request.common_name);
    IssuedFiles files{stem + "-cert.pem", stem + "-key.pem"};
    write_file(files.certificate, chain);
    write_file_with_mode(files.private_key, private_key_pem(key.get()), 0600);
    return files;
}

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/oidcgw-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("cannot create temporary directory " + pattern + ": " +
                                 std::strerror(errno));
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;  // a destructor must not throw; a leftover temp dir is harmless
    std::filesystem::remove_all(path_, ignored);
}

std::string read_file(const std::string& path) {
    // A directory opens fine as an ifstream and then reads as empty: refuse it up front.
    std::error_code ignored;
    if (std::filesystem::is_directory(path, ignored)) {
        throw std::runtime_error("cannot read " + path + ": is a directory");
    }
    std::ifstream stream(path, std::ios::binary);
    if (!stream) throw std::runtime_error("cannot open " + path + " for reading");
    std::ostringstream content;
    content << stream.rdbuf();
    if (stream.bad()) throw std::runtime_error("cannot read " + path);
    return content.str();
}

void write_file(const std::string& path, const std::string& content) {
    write_file_with_mode(path, content, 0644);
}

std::string openssl_cli_sha1(const std::string& pem_file) {
    using PipePtr = std::unique_ptr<FILE, CDeleter<pclose>>;
    const std::string command =
        "timeout 20 openssl x509 -noout -fingerprint -sha1 -in '" + pem_file + "' 2>&1";
    PipePtr pipe(popen(command.c_str(), "r"));
    if (!pipe) throw std::runtime_error("cannot run openssl");
    std::string output;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) output += buffer;
    std::string hex;
    if (!RE2::PartialMatch(output, "(?i)SHA1 Fingerprint=([0-9A-F:]+)", &hex)) {
        throw std::runtime_error("unexpected openssl output: " + output);
    }
    std::erase(hex, ':');
    return to_lower_ascii(hex);
}

}  // namespace oidcgw::testing
