#include "wire/asio/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <functional>
#include <vector>

namespace trolley {
namespace {

namespace ssl = asio::ssl;

// OpenSSL's most recent error as text (and clears the queue).
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

Status LoadFile(std::string_view field, const std::string& path,
                const std::function<void(boost::system::error_code&)>& load) {
  boost::system::error_code ec;
  load(ec);
  if (!ec) return Status::Ok();
  return Status::InvalidArgument(std::string(field) + ": cannot use '" + path +
                                 "': " + ec.message());
}

Result<PeerIdentity> IdentityOfCertificate(X509* cert) {
  std::vector<std::string> uris;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                        static_cast<size_t>(ASN1_STRING_length(uri)));
    }
    GENERAL_NAMES_free(names);
  }
  char common_name[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, common_name,
                                sizeof(common_name)) < 0) {
    common_name[0] = '\0';
  }
  return IdentityFromCertificate(uris, common_name);
}

}  // namespace

Result<std::unique_ptr<ssl::context>> MakeTlsContext(const TlsFiles& files, TlsRole role) {
  if (files.ca_file.empty()) return Status::InvalidArgument("tls.ca_file: is required for TLS");
  if (role == TlsRole::kNode && (files.cert_file.empty() || files.key_file.empty())) {
    return Status::InvalidArgument("tls.cert_file and tls.key_file: a node needs both");
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return Status::InvalidArgument("tls: a certificate needs its key and a key its certificate");
  }
  auto context = std::make_unique<ssl::context>(role == TlsRole::kNode ? ssl::context::tls
                                                                       : ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                       ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  int verify = ssl::verify_peer;
  if (role == TlsRole::kNode) verify |= ssl::verify_fail_if_no_peer_cert;
  context->set_verify_mode(verify);
  if (Status s = LoadFile("tls.ca_file", files.ca_file,
                          [&](auto& ec) { context->load_verify_file(files.ca_file, ec); });
      !s.ok()) {
    return s;
  }
  if (files.cert_file.empty()) return context;
  if (Status s =
          LoadFile("tls.cert_file", files.cert_file,
                   [&](auto& ec) { context->use_certificate_chain_file(files.cert_file, ec); });
      !s.ok()) {
    return s;
  }
  if (Status s = LoadFile(
          "tls.key_file", files.key_file,
          [&](auto& ec) { context->use_private_key_file(files.key_file, ssl::context::pem, ec); });
      !s.ok()) {
    return s;
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Status::InvalidArgument("tls.key_file: '" + files.key_file + "' is not the key of '" +
                                   files.cert_file + "': " + OpenSslError());
  }
  return context;
}

Result<PeerIdentity> PeerIdentityOf(SSL* ssl) {
  if (ssl == nullptr) return PeerIdentity{};  // plain TCP
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return Status::FailedPrecondition("the other end sent no certificate");
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    return Status::FailedPrecondition(std::string("the other end's certificate did not verify: ") +
                                      X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
  }
  return IdentityOfCertificate(cert);
}

Result<PeerIdentity> DialledNodeIdentity(SSL* ssl, std::string_view expected_node_id) {
  auto identity = PeerIdentityOf(ssl);
  if (!identity.ok()) return identity.status();
  if (Status s = CheckServerIdentity(*identity, expected_node_id); !s.ok()) return s;
  return identity;
}

Result<PeerIdentity> CertificateFileIdentity(const std::string& cert_file) {
  std::FILE* file = std::fopen(cert_file.c_str(), "r");
  if (file == nullptr) {
    return Status::InvalidArgument("tls.cert_file: cannot read '" + cert_file + "'");
  }
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr) {
    return Status::InvalidArgument("tls.cert_file: '" + cert_file +
                                   "' holds no PEM certificate: " + OpenSslError());
  }
  auto identity = IdentityOfCertificate(cert);
  X509_free(cert);
  return identity;
}

}  // namespace trolley
