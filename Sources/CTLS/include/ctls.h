// The C side of everything ftpfs takes from the system's OpenSSL: message digests, and TLS
// with session reuse (ctls_tls.h). Swift can call libcrypto directly for most things, but several of
// its entry points are macros; this header gives them stable function names.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ctls_tls.h"  // TLS: contexts, the socket BIO, session reuse, certificate reports

typedef struct ctls_digest ctls_digest;

// A digest by OpenSSL name ("SHA256", "SHA1", "MD5"); NULL when unknown.
ctls_digest *ctls_digest_new(const char *name);
void ctls_digest_update(ctls_digest *digest, const void *bytes, size_t count);
// Writes the digest to out (at least 64 bytes) and returns its length; the digest is then spent.
size_t ctls_digest_final(ctls_digest *digest, uint8_t *out);
void ctls_digest_free(ctls_digest *digest);
