#include "ctls.h"

#include <openssl/evp.h>

struct ctls_digest {
    EVP_MD_CTX *context;
};

ctls_digest *ctls_digest_new(const char *name) {
    const EVP_MD *type = EVP_get_digestbyname(name);
    if (type == NULL) {
        return NULL;
    }
    ctls_digest *digest = OPENSSL_zalloc(sizeof(*digest));
    if (digest == NULL) {
        return NULL;
    }
    digest->context = EVP_MD_CTX_new();
    if (digest->context == NULL || EVP_DigestInit_ex(digest->context, type, NULL) != 1) {
        ctls_digest_free(digest);
        return NULL;
    }
    return digest;
}

void ctls_digest_update(ctls_digest *digest, const void *bytes, size_t count) {
    EVP_DigestUpdate(digest->context, bytes, count);
}

size_t ctls_digest_final(ctls_digest *digest, uint8_t *out) {
    unsigned int length = 0;
    EVP_DigestFinal_ex(digest->context, out, &length);
    return length;
}

void ctls_digest_free(ctls_digest *digest) {
    if (digest == NULL) {
        return;
    }
    EVP_MD_CTX_free(digest->context);
    OPENSSL_free(digest);
}
