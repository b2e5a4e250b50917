// TLS for FTPS over the system's OpenSSL: the few things Swift cannot call directly or cleanly.
//
// - Macros (SSL_CTX_set_min_proto_version, SSL_set_tlsext_host_name, SSL_OP_* bits, ...).
// - Callbacks: the verify callback records why a certificate was rejected, the new-session
//   callback keeps the control connection's session so data connections can resume it.
// - A socket BIO that sends with MSG_NOSIGNAL (OpenSSL's own uses write(2), which raises
//   SIGPIPE when the peer has gone) and remembers errno for messages.
//
// Everything else (SSL_new, SSL_connect, SSL_read, ...) Swift calls directly.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

// MARK: - Contexts

// A client SSL_CTX: TLS 1.2 at least (`max_version` 0 = the newest OpenSSL knows, else e.g.
// TLS1_2_VERSION), no compression, an EOF without close_notify an error (not an orderly end:
// see ctls_ssl_eof_without_close_notify), client-side session caching
// through ctls_session_cache (no internal store). `verify`: 0 = accept any certificate
// (tls_insecure, or a pinned fingerprint checked after the handshake), 1 = verify the chain
// (and the host name set on each SSL) and record the first failure (ctls_verify_failure).
SSL_CTX *ctls_context_new(int verify, int max_version);

// MARK: - Connections

// Creates an SSL for a connected socket: ctls's socket BIO on `fd`, SNI `server_name` (NULL for
// none: IP literals are not sent), and the session cache it learns the sessions the server
// gives it into when `learn` is 1 (the control connection and its data connections; a TLS 1.3
// server hands out fresh tickets on every resumed data connection). `cache` must outlive the
// SSL. Returns NULL on failure (see ctls_error_message).
typedef struct ctls_session_cache ctls_session_cache;
SSL *ctls_ssl_new(SSL_CTX *context, int fd, const char *server_name, ctls_session_cache *cache, int learn);

// errno of the socket's last failed send/recv (0 if none).
int ctls_ssl_socket_errno(SSL *ssl);

// Whether the peer's close_notify was received.
int ctls_ssl_received_shutdown(SSL *ssl);

// Whether the connection ended with a TCP FIN that no close_notify preceded: a read then fails
// (SSL_ERROR_SSL "unexpected eof", or SSL_ERROR_SYSCALL on older OpenSSL) rather than ending.
int ctls_ssl_eof_without_close_notify(SSL *ssl);

// MARK: - Session cache (one per control connection)

ctls_session_cache *ctls_session_cache_new(void);
void ctls_session_cache_free(ctls_session_cache *cache);
// Offers a copy of a cached session to `ssl` before SSL_connect: the newest not offered yet
// (TLS 1.3 tickets may be single-use), else the newest. Returns 1 when one was set.
int ctls_session_cache_apply(ctls_session_cache *cache, SSL *ssl);
// How many sessions the cache has learned so far (for diagnostics and tests).
int ctls_session_cache_count(ctls_session_cache *cache);

// MARK: - Verification failures

// The first certificate problem the verify callback saw on `ssl` (X509_V_OK when none), the
// chain depth it was found at, and (up-referenced, caller frees with X509_free) the leaf
// certificate and the certificate at fault. Returns the error code.
int ctls_verify_failure(SSL *ssl, int *depth, X509 **leaf, X509 **at_fault);

// MARK: - Certificates

// SHA-256 of the certificate's DER encoding into out[32]. Returns 1 on success.
int ctls_certificate_sha256(X509 *certificate, uint8_t *out);
// "DNS:a.example, IP Address:127.0.0.1" (subjectAltName), else "CN=..." of the subject.
// Writes a NUL-terminated string; returns its length.
size_t ctls_certificate_names(X509 *certificate, char *out, size_t size);
// The subject as one line ("CN = x, O = y").
size_t ctls_certificate_subject(X509 *certificate, char *out, size_t size);
// notBefore / notAfter as "Jan  2 00:00:00 2020 GMT".
size_t ctls_certificate_not_before(X509 *certificate, char *out, size_t size);
size_t ctls_certificate_not_after(X509 *certificate, char *out, size_t size);

// MARK: - Errors

// Drains OpenSSL's error queue of this thread into "reason; reason" (the last few entries).
size_t ctls_error_message(char *out, size_t size);
