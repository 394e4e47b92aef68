// Owning handles for C library objects (OpenSSL, libevent, libcurl): every handle the gateway
// creates lives in one of these, so early returns and exceptions never leak.
#pragma once

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <memory>

namespace oidcgw {

template <auto FreeFunction>
struct CDeleter {
    template <typename T>
    void operator()(T* handle) const noexcept {
        if (handle != nullptr) FreeFunction(handle);
    }
};

using X509Ptr = std::unique_ptr<X509, CDeleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, CDeleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, CDeleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, CDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, CDeleter<BIO_free_all>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, CDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, CDeleter<SSL_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, CDeleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, CDeleter<ECDSA_SIG_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, CDeleter<X509_REQ_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, CDeleter<X509_EXTENSION_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, CDeleter<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, CDeleter<GENERAL_NAMES_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, CDeleter<ASN1_OBJECT_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, CDeleter<ASN1_OCTET_STRING_free>>;
using Asn1Ia5StringPtr = std::unique_ptr<ASN1_IA5STRING, CDeleter<ASN1_IA5STRING_free>>;

using EventBasePtr = std::unique_ptr<event_base, CDeleter<event_base_free>>;
using EventPtr = std::unique_ptr<event, CDeleter<event_free>>;
using EvConnListenerPtr = std::unique_ptr<evconnlistener, CDeleter<evconnlistener_free>>;

using CurlPtr = std::unique_ptr<CURL, CDeleter<curl_easy_cleanup>>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CDeleter<curl_slist_free_all>>;

// A file descriptor closed on destruction unless released (files being read, listening sockets
// carried from the thread that opens them to the loop that adopts them).
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = other.release();
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

  private:
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int fd_ = -1;
};

}  // namespace oidcgw
