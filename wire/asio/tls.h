// TLS for Trolley connections over OpenSSL (asio::ssl): the contexts a node
// and a client use, and the identity a verified peer certificate proves
// (wire/handshake.h, PeerIdentity). See docs/design.md, 'Security: TLS and
// identities', and docs/operations.md for the certificate layout.
//
// A node has one context for both directions: it verifies every peer
// against the cluster CA and requires a certificate from whoever connects
// (a connection without one, or with one from another CA, fails the
// handshake), and presents its own certificate, which names its member id,
// both when it accepts and when it dials a peer. A client's context
// verifies the node against the same CA and presents the client's
// certificate when it has one. TLS 1.2 is the oldest version accepted;
// there is no hostname check: the certificate's Trolley identity is checked
// instead (CheckHelloReply).
// Threading: a context is shared read-only by the connections of one
// io_context thread; create it once and keep it alive while they live.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "wire/asio/ssl.h"
#include "wire/handshake.h"
#include "wire/tls_files.h"

namespace trolley {

enum class TlsRole {
  kNode,    // verifies and requires the other end's certificate, both directions
  kClient,  // dials only; verifies the node's certificate
};

// Loads the files into a new context. InvalidArgument naming the file (and
// OpenSSL's reason) when one is missing, unreadable or the key does not
// match the certificate.
Result<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const TlsFiles& files, TlsRole role);

// The identity of the verified certificate the other end presented on
// `ssl` (after a successful handshake). FailedPrecondition when there is
// none or it names no Trolley identity.
Result<PeerIdentity> PeerIdentityOf(SSL* ssl);

// What a dialler checks right after the handshake, before sending
// anything: PeerIdentityOf(ssl), which must pass CheckServerIdentity
// (wire/handshake.h) for `expected_node_id` ("" for any node). Plain TCP
// (null ssl): the unauthenticated identity.
Result<PeerIdentity> DialledNodeIdentity(SSL* ssl, std::string_view expected_node_id);

// The identity `cert_file` names (trolleyd checks its own at start).
Result<PeerIdentity> CertificateFileIdentity(const std::string& cert_file);

}  // namespace trolley
