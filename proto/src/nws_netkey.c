/*  nws_netkey - the network key, its TLS PSK and channel tags.  */
#include "nws_netkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_FILE_MAX 128              /* bytes read from a key file, at most */
#define S_BASE64_LEN 44             /* base64 of 32 bytes, with its '=' */
#define S_SALT "nws network key"
#define S_PSK_ID "nws 1"

struct nws_netkey_t {
    unsigned char psk [32];         /* TLS external PSK */
    unsigned char tag_key [32];     /* HMAC key of channel tags */
    nws_netkey_refused_fn *refused; /* told of refused handshakes */
    void *refused_arg;              /* for refused */
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static int s_index = -1;            /* SSL_CTX ex_data slot of the key */

static void
s_index_new (void)
{
    s_index = SSL_CTX_get_ex_new_index (0, NULL, NULL, NULL, NULL);
}

//  HKDF-SHA256 of key under our salt, with info label: 32 bytes into out.
static int
s_derive (const unsigned char *key, const char *label, unsigned char *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_HKDF, NULL);
    size_t len = 32;
    int ok = ctx
          && EVP_PKEY_derive_init (ctx) > 0
          && EVP_PKEY_CTX_set_hkdf_md (ctx, EVP_sha256 ()) > 0
          && EVP_PKEY_CTX_set1_hkdf_salt (ctx, (const unsigned char *) S_SALT,
                                          (int) strlen (S_SALT)) > 0
          && EVP_PKEY_CTX_set1_hkdf_key (ctx, key, NWS_NETKEY_BYTES) > 0
          && EVP_PKEY_CTX_add1_hkdf_info (ctx, (const unsigned char *) label,
                                          (int) strlen (label)) > 0
          && EVP_PKEY_derive (ctx, out, &len) > 0 && len == 32;
    EVP_PKEY_CTX_free (ctx);
    return ok ? 0 : -1;
}

//  Reads at most S_FILE_MAX bytes of the key file into buf; 0 or an error.
static int
s_read (const char *path, char *buf, size_t *len, char *error, size_t cap)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf (error, cap, "key file %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode)) {
        snprintf (error, cap, "key file %s: not a regular file", path);
        close (fd);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf (error, cap, "key file %s: group or others may access it (mode %04o); "
                  "make it 0600 (chmod 600 %s)", path, (unsigned) (st.st_mode & 07777), path);
        close (fd);
        return -1;
    }
    ssize_t got = read (fd, buf, S_FILE_MAX);
    close (fd);
    if (got < 0) {
        snprintf (error, cap, "key file %s: %s", path, strerror (errno));
        return -1;
    }
    *len = (size_t) got;
    return 0;
}

//  Decodes a line of base64 (len bytes, padded) into out (len / 4 * 3
//  bytes). Returns the bytes it stands for, or -1 if it is not base64.
static int
s_decode (const char *text, size_t len, unsigned char *out)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t pad = len > 0 && text [len - 1] == '=' ? 1 + (len > 1 && text [len - 2] == '=') : 0;
    if (len == 0 || len % 4)
        return -1;
    for (size_t i = 0; i < len - pad; i++)
        if (!memchr (alphabet, text [i], 64))
            return -1;
    int n = EVP_DecodeBlock (out, (const unsigned char *) text, (int) len);
    return n < 0 ? -1 : n - (int) pad;
}

nws_netkey_t *
nws_netkey_load (const char *path, char *error, size_t cap)
{
    char buf [S_FILE_MAX];
    size_t len = 0;
    if (s_read (path, buf, &len, error, cap))
        return NULL;
    size_t line = len;
    if (line > 0 && buf [line - 1] == '\n')
        line--;
    if (line > 0 && buf [line - 1] == '\r')
        line--;
    unsigned char key [S_FILE_MAX];
    nws_netkey_t *self = NULL;
    int bytes = 0;
    if (len == S_FILE_MAX || memchr (buf, '\n', line))
        snprintf (error, cap, "key file %s: expected one line of %d base64 characters "
                  "(32 bytes), found %s%zu bytes%s", path, S_BASE64_LEN,
                  len == S_FILE_MAX ? "at least " : "", len,
                  len == S_FILE_MAX ? "" : " on several lines");
    else
    if ((bytes = s_decode (buf, line, key)) < 0)
        snprintf (error, cap, "key file %s: not one line of base64", path);
    else
    if (bytes != NWS_NETKEY_BYTES)
        snprintf (error, cap, "key file %s: holds %d bytes; a network key is %d "
                  "(44 base64 characters)", path, bytes, NWS_NETKEY_BYTES);
    else {
        self = calloc (1, sizeof *self);
        if (!self)
            snprintf (error, cap, "key file %s: out of memory", path);
        else
        if (s_derive (key, "nws 1 tls psk", self->psk)
        ||  s_derive (key, "nws 1 advert tag", self->tag_key)) {
            snprintf (error, cap, "key file %s: cannot derive keys (OpenSSL)", path);
            nws_netkey_destroy (&self);
        }
    }
    OPENSSL_cleanse (buf, sizeof buf);
    OPENSSL_cleanse (key, sizeof key);
    return self;
}

int
nws_netkey_option (const char *file, const char *program, nws_netkey_t **key_p)
{
    const char *env = getenv ("NWS_KEY");
    *key_p = NULL;
    if (!file && env && *env)
        file = env;
    if (!file)
        return 0;
    char error [NWS_NETKEY_ERROR_MAX];
    *key_p = nws_netkey_load (file, error, sizeof error);
    if (!*key_p) {
        fprintf (stderr, "%s: %s\n", program, error);
        return -1;
    }
    return 0;
}

void
nws_netkey_destroy (nws_netkey_t **self_p)
{
    if (!*self_p)
        return;
    OPENSSL_cleanse (*self_p, sizeof **self_p);
    free (*self_p);
    *self_p = NULL;
}

void
nws_netkey_tag (const nws_netkey_t *self, const nws_channel_t *channel,
                char tag [NWS_NETKEY_TAG_HEX + 1])
{
    char topic [NWS_NAME_MAX + 16];
    int len = snprintf (topic, sizeof topic, "broadcast/%s", channel->name);
    unsigned char mac [EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC (EVP_sha256 (), self->tag_key, sizeof self->tag_key, (const unsigned char *) topic,
          (size_t) len, mac, &mac_len);
    for (int i = 0; i < NWS_NETKEY_TAG_HEX / 2; i++)
        snprintf (tag + 2 * i, 3, "%02x", mac [i]);
}

//  ---------------------------------------------------------------------
//  TLS

//  Our PSK as a TLS 1.3 session with its cipher suite, for ssl.
static SSL_SESSION *
s_session (SSL *ssl)
{
    nws_netkey_t *self = SSL_CTX_get_ex_data (SSL_get_SSL_CTX (ssl), s_index);
    static const unsigned char aes128gcm_sha256 [2] = { 0x13, 0x01 };
    const SSL_CIPHER *cipher = SSL_CIPHER_find (ssl, aes128gcm_sha256);
    SSL_SESSION *session = self && cipher ? SSL_SESSION_new () : NULL;
    if (session
    &&  (!SSL_SESSION_set1_master_key (session, self->psk, sizeof self->psk)
      || !SSL_SESSION_set_cipher (session, cipher)
      || !SSL_SESSION_set_protocol_version (session, TLS1_3_VERSION))) {
        SSL_SESSION_free (session);
        session = NULL;
    }
    return session;
}

//  Server: a client offers a PSK identity. Another identity is no PSK,
//  and then, with no certificate to fall back on, no handshake.
static int
s_find_session (SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **session)
{
    *session = NULL;
    if (len == strlen (S_PSK_ID) && memcmp (identity, S_PSK_ID, len) == 0)
        *session = s_session (ssl);
    return 1;
}

//  Client: the PSK to offer (md is set when the server asked again).
static int
s_use_session (SSL *ssl, const EVP_MD *md, const unsigned char **identity, size_t *len,
               SSL_SESSION **session)
{
    *session = s_session (ssl);
    if (*session && md
    &&  md != SSL_CIPHER_get_handshake_digest (SSL_SESSION_get0_cipher (*session))) {
        SSL_SESSION_free (*session);
        *session = NULL;
    }
    *identity = (const unsigned char *) S_PSK_ID;
    *len = strlen (S_PSK_ID);
    return *session ? 1 : 0;
}

//  Server: an alert we send to a peer whose PSK we did not take refuses
//  it. (Once taken, the session counts as resumed: an alert after that,
//  e.g. on a peer gone without close_notify, is no refusal.)
static void
s_on_info (const SSL *ssl, int where, int value)
{
    if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_WRITE) || SSL_session_reused ((SSL *) ssl))
        return;
    nws_netkey_t *self = SSL_CTX_get_ex_data (SSL_get_SSL_CTX (ssl), s_index);
    if (self && self->refused)
        self->refused (self->refused_arg, SSL_get_fd (ssl), SSL_alert_desc_string_long (value));
}

//  What both sides set: TLS 1.3 only, one suite, the key at hand.
static int
s_common (nws_netkey_t *self, SSL_CTX *ctx)
{
    pthread_once (&s_once, s_index_new);
    return s_index >= 0
        && SSL_CTX_set_ex_data (ctx, s_index, self)
        && SSL_CTX_set_min_proto_version (ctx, TLS1_3_VERSION)
        && SSL_CTX_set_ciphersuites (ctx, "TLS_AES_128_GCM_SHA256")
        && (SSL_CTX_set_options (ctx, SSL_OP_NO_TICKET), 1)
        ? 0 : -1;
}

int
nws_netkey_tls_server (nws_netkey_t *self, SSL_CTX *ctx, nws_netkey_refused_fn *refused,
                       void *arg)
{
    if (s_common (self, ctx))
        return -1;
    self->refused = refused;
    self->refused_arg = arg;
    SSL_CTX_set_psk_find_session_callback (ctx, s_find_session);
    SSL_CTX_set_info_callback (ctx, s_on_info);
    //  No tickets: a resumed session would be a second way in to audit.
    SSL_CTX_set_num_tickets (ctx, 0);
    return 0;
}

SSL_CTX *
nws_netkey_tls_client (nws_netkey_t *self)
{
    SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());
    if (!ctx || s_common (self, ctx)) {
        SSL_CTX_free (ctx);
        return NULL;
    }
    SSL_CTX_set_psk_use_session_callback (ctx, s_use_session);
    return ctx;
}
