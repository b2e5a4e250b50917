#include "ctls_tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

// MARK: - The socket BIO

// OpenSSL's socket BIO writes with write(2): a peer that has gone away raises SIGPIPE and kills
// the process. This one sends with MSG_NOSIGNAL, keeps errno for messages, and remembers EOF so
// that a bare FIN can be told from the peer's close_notify (ctls_ssl_eof_without_close_notify).
typedef struct {
    int fd;
    int last_errno;
    int eof;
} socket_state;

static int socket_write(BIO *bio, const char *data, int length) {
    socket_state *state = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    for (;;) {
        ssize_t count = send(state->fd, data, (size_t)length, MSG_NOSIGNAL);
        if (count >= 0) {
            return (int)count;
        }
        if (errno == EINTR) {
            continue;
        }
        state->last_errno = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            // SO_SNDTIMEO expired: SSL_get_error says WANT_WRITE, read as a timeout.
            BIO_set_retry_write(bio);
        }
        return -1;
    }
}

static int socket_read(BIO *bio, char *data, int length) {
    socket_state *state = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    for (;;) {
        ssize_t count = recv(state->fd, data, (size_t)length, 0);
        if (count > 0) {
            return (int)count;
        }
        if (count == 0) {
            state->eof = 1;
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        state->last_errno = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            BIO_set_retry_read(bio);  // SO_RCVTIMEO expired
        }
        return -1;
    }
}

static int socket_puts(BIO *bio, const char *text) {
    return socket_write(bio, text, (int)strlen(text));
}

static long socket_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    socket_state *state = BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_EOF:
        return state != NULL && state->eof;
    case BIO_C_GET_FD:
        if (pointer != NULL && state != NULL) {
            *(int *)pointer = state->fd;
        }
        return state != NULL ? state->fd : -1;
    default:
        return 0;
    }
}

static int socket_create(BIO *bio) {
    socket_state *state = OPENSSL_zalloc(sizeof(*state));
    if (state == NULL) {
        return 0;
    }
    state->fd = -1;
    BIO_set_data(bio, state);
    BIO_set_init(bio, 1);
    return 1;
}

static int socket_destroy(BIO *bio) {
    // The descriptor belongs to the Swift Socket, which closes it.
    OPENSSL_free(BIO_get_data(bio));
    BIO_set_data(bio, NULL);
    return 1;
}

static BIO_METHOD *socket_method;
static int link_index = -1;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

// MARK: - Per-connection state

// Attached to every SSL ctls creates (ex_data): where its sessions go, and the first
// certificate problem its verification met.
typedef struct {
    ctls_session_cache *cache;
    int learn;
    int verify_error;
    int verify_depth;
    X509 *leaf;
    X509 *at_fault;
} connection_link;

static void link_free(void *parent, void *pointer, CRYPTO_EX_DATA *data, int index, long argl, void *argp) {
    (void)parent;
    (void)data;
    (void)index;
    (void)argl;
    (void)argp;
    connection_link *link = pointer;
    if (link == NULL) {
        return;
    }
    X509_free(link->leaf);
    X509_free(link->at_fault);
    OPENSSL_free(link);
}

static void setup(void) {
    socket_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "ftpfs socket");
    if (socket_method != NULL) {
        BIO_meth_set_write(socket_method, socket_write);
        BIO_meth_set_read(socket_method, socket_read);
        BIO_meth_set_puts(socket_method, socket_puts);
        BIO_meth_set_ctrl(socket_method, socket_ctrl);
        BIO_meth_set_create(socket_method, socket_create);
        BIO_meth_set_destroy(socket_method, socket_destroy);
    }
    link_index = SSL_get_ex_new_index(0, "ftpfs connection", NULL, NULL, link_free);
}

static connection_link *link_of(SSL *ssl) {
    return link_index >= 0 ? SSL_get_ex_data(ssl, link_index) : NULL;
}

// MARK: - Session cache

// The sessions a control connection and its data connections were given, newest last.
//
// TLS 1.2: one session, from the control connection's handshake, resumed by every data
// connection. TLS 1.3: sessions come as tickets after the handshake (OpenSSL servers send two),
// and a server with stateful tickets (ProFTPD's default) accepts each ticket once; every
// resumed data connection is then given fresh tickets, which are learned too. So a data
// connection takes the newest ticket not yet used, and only when none is left the newest one.
// Data connections resume a copy, so nothing that happens to them (an abort marks a session
// not resumable) spoils the cached one.
#define CACHE_CAPACITY 8

typedef struct {
    SSL_SESSION *session;
    int used;
} cache_entry;

struct ctls_session_cache {
    pthread_mutex_t lock;
    cache_entry entries[CACHE_CAPACITY];
    int count;
    int learned;
};

ctls_session_cache *ctls_session_cache_new(void) {
    ctls_session_cache *cache = OPENSSL_zalloc(sizeof(*cache));
    if (cache != NULL) {
        pthread_mutex_init(&cache->lock, NULL);
    }
    return cache;
}

void ctls_session_cache_free(ctls_session_cache *cache) {
    if (cache == NULL) {
        return;
    }
    for (int index = 0; index < cache->count; index++) {
        SSL_SESSION_free(cache->entries[index].session);
    }
    pthread_mutex_destroy(&cache->lock);
    OPENSSL_free(cache);
}

int ctls_session_cache_apply(ctls_session_cache *cache, SSL *ssl) {
    int applied = 0;
    pthread_mutex_lock(&cache->lock);
    int chosen = -1;
    for (int index = cache->count - 1; index >= 0 && chosen < 0; index--) {
        if (!cache->entries[index].used && SSL_SESSION_is_resumable(cache->entries[index].session)) {
            chosen = index;
        }
    }
    for (int index = cache->count - 1; index >= 0 && chosen < 0; index--) {
        if (SSL_SESSION_is_resumable(cache->entries[index].session)) {
            chosen = index;
        }
    }
    if (chosen >= 0) {
        SSL_SESSION *copy = SSL_SESSION_dup(cache->entries[chosen].session);
        if (copy != NULL) {
            applied = SSL_set_session(ssl, copy);
            SSL_SESSION_free(copy);  // the SSL holds its own reference
        }
        cache->entries[chosen].used = 1;
    }
    pthread_mutex_unlock(&cache->lock);
    return applied;
}

int ctls_session_cache_count(ctls_session_cache *cache) {
    pthread_mutex_lock(&cache->lock);
    int count = cache->learned;
    pthread_mutex_unlock(&cache->lock);
    return count;
}

// Called by OpenSSL when a connection has a session worth keeping: at the end of a TLS 1.2
// handshake, and for TLS 1.3 whenever a NewSessionTicket arrives (after the handshake, during
// a later SSL_read). The newest session wins.
static int new_session(SSL *ssl, SSL_SESSION *session) {
    connection_link *link = link_of(ssl);
    if (link == NULL || link->cache == NULL || !link->learn) {
        return 0;
    }
    ctls_session_cache *cache = link->cache;
    pthread_mutex_lock(&cache->lock);
    if (cache->count == CACHE_CAPACITY) {
        SSL_SESSION_free(cache->entries[0].session);
        memmove(&cache->entries[0], &cache->entries[1], sizeof(cache_entry) * (CACHE_CAPACITY - 1));
        cache->count -= 1;
    }
    cache->entries[cache->count].session = session;
    cache->entries[cache->count].used = 0;
    cache->count += 1;
    cache->learned += 1;
    pthread_mutex_unlock(&cache->lock);
    return 1;  // we keep the reference
}

// MARK: - Verification

static int verify_callback(int ok, X509_STORE_CTX *store) {
    if (ok) {
        return 1;
    }
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    connection_link *link = ssl != NULL ? link_of(ssl) : NULL;
    if (link != NULL && link->verify_error == X509_V_OK) {
        link->verify_error = X509_STORE_CTX_get_error(store);
        link->verify_depth = X509_STORE_CTX_get_error_depth(store);
        X509 *leaf = X509_STORE_CTX_get0_cert(store);
        if (leaf != NULL && X509_up_ref(leaf)) {
            link->leaf = leaf;
        }
        X509 *current = X509_STORE_CTX_get_current_cert(store);
        if (current != NULL && X509_up_ref(current)) {
            link->at_fault = current;
        }
    }
    return 0;
}

int ctls_verify_failure(SSL *ssl, int *depth, X509 **leaf, X509 **at_fault) {
    connection_link *link = link_of(ssl);
    *depth = 0;
    *leaf = NULL;
    *at_fault = NULL;
    if (link == NULL) {
        return X509_V_OK;
    }
    *depth = link->verify_depth;
    if (link->leaf != NULL && X509_up_ref(link->leaf)) {
        *leaf = link->leaf;
    }
    if (link->at_fault != NULL && X509_up_ref(link->at_fault)) {
        *at_fault = link->at_fault;
    }
    return link->verify_error;
}

// MARK: - Contexts and connections

SSL_CTX *ctls_context_new(int verify, int max_version) {
    pthread_once(&setup_once, setup);
    if (socket_method == NULL || link_index < 0) {
        return NULL;
    }
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) {
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        || (max_version != 0 && !SSL_CTX_set_max_proto_version(context, max_version))) {
        SSL_CTX_free(context);
        return NULL;
    }
    // No SSL_OP_IGNORE_UNEXPECTED_EOF: it would report a TCP FIN without close_notify as an
    // orderly end, and a data stream cut short on the path would pass for a whole one.
    SSL_CTX_set_options(context, SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(context, SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context, new_session);
    SSL_CTX_set_verify(context, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, verify ? verify_callback : NULL);
    return context;
}

SSL *ctls_ssl_new(SSL_CTX *context, int fd, const char *server_name, ctls_session_cache *cache, int learn) {
    SSL *ssl = SSL_new(context);
    if (ssl == NULL) {
        return NULL;
    }
    connection_link *link = OPENSSL_zalloc(sizeof(*link));
    BIO *bio = BIO_new(socket_method);
    if (link == NULL || bio == NULL) {
        OPENSSL_free(link);
        BIO_free(bio);
        SSL_free(ssl);
        return NULL;
    }
    link->cache = cache;
    link->learn = learn;
    link->verify_error = X509_V_OK;
    if (!SSL_set_ex_data(ssl, link_index, link)) {
        OPENSSL_free(link);
        BIO_free(bio);
        SSL_free(ssl);
        return NULL;
    }
    ((socket_state *)BIO_get_data(bio))->fd = fd;
    SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO now
    if (server_name != NULL && !SSL_set_tlsext_host_name(ssl, server_name)) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

int ctls_ssl_socket_errno(SSL *ssl) {
    BIO *bio = SSL_get_rbio(ssl);
    socket_state *state = bio != NULL ? BIO_get_data(bio) : NULL;
    return state != NULL ? state->last_errno : 0;
}

int ctls_ssl_received_shutdown(SSL *ssl) {
    return (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}

int ctls_ssl_eof_without_close_notify(SSL *ssl) {
    BIO *bio = SSL_get_rbio(ssl);
    socket_state *state = bio != NULL ? BIO_get_data(bio) : NULL;
    return state != NULL && state->eof && !ctls_ssl_received_shutdown(ssl);
}

// MARK: - Certificates

int ctls_certificate_sha256(X509 *certificate, uint8_t *out) {
    unsigned int length = 0;
    return X509_digest(certificate, EVP_sha256(), out, &length) == 1 && length == 32;
}

static size_t bio_text(BIO *bio, char *out, size_t size) {
    if (size == 0) {
        BIO_free(bio);
        return 0;
    }
    int count = BIO_read(bio, out, (int)(size - 1));
    if (count < 0) {
        count = 0;
    }
    out[count] = '\0';
    BIO_free(bio);
    return (size_t)count;
}

size_t ctls_certificate_names(X509 *certificate, char *out, size_t size) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return 0;
    }
    GENERAL_NAMES *names = X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
    int written = 0;
    for (int index = 0; names != NULL && index < sk_GENERAL_NAME_num(names); index++) {
        GENERAL_NAME *name = sk_GENERAL_NAME_value(names, index);
        if (name->type != GEN_DNS && name->type != GEN_IPADD) {
            continue;
        }
        if (written++ > 0) {
            BIO_puts(bio, ", ");
        }
        GENERAL_NAME_print(bio, name);
    }
    GENERAL_NAMES_free(names);
    if (written == 0) {
        X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    }
    return bio_text(bio, out, size);
}

size_t ctls_certificate_subject(X509 *certificate, char *out, size_t size) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return 0;
    }
    X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    return bio_text(bio, out, size);
}

static size_t time_text(const ASN1_TIME *time, char *out, size_t size) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return 0;
    }
    ASN1_TIME_print(bio, time);
    return bio_text(bio, out, size);
}

size_t ctls_certificate_not_before(X509 *certificate, char *out, size_t size) {
    return time_text(X509_get0_notBefore(certificate), out, size);
}

size_t ctls_certificate_not_after(X509 *certificate, char *out, size_t size) {
    return time_text(X509_get0_notAfter(certificate), out, size);
}

// MARK: - Errors

size_t ctls_error_message(char *out, size_t size) {
    if (size == 0) {
        return 0;
    }
    out[0] = '\0';
    size_t used = 0;
    unsigned long code;
    while ((code = ERR_get_error()) != 0) {
        const char *reason = ERR_reason_error_string(code);
        char fallback[32];
        if (reason == NULL) {
            snprintf(fallback, sizeof(fallback), "error %d", ERR_GET_REASON(code));
            reason = fallback;
        }
        int count = snprintf(out + used, size - used, "%s%s", used > 0 ? "; " : "", reason);
        if (count < 0 || (size_t)count >= size - used) {
            break;
        }
        used += (size_t)count;
    }
    ERR_clear_error();
    return used;
}
