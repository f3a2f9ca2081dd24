// TlsFiles: where one side of a Trolley connection finds its TLS material
// (PEM files). A plain struct, so that client/client.h can carry it
// without OpenSSL; wire/asio/tls.h turns it into a context.
// All empty: TLS off. A node needs all three; a client needs ca_file and,
// to be authenticated, cert_file and key_file.
#pragma once

#include <string>

namespace trolley {

struct TlsFiles {
  std::string ca_file;    // the cluster CA, to verify the other end
  std::string cert_file;  // this side's certificate (chain)
  std::string key_file;   // its private key
  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

}  // namespace trolley
