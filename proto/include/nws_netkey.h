/*  nws_netkey - the network key of a private nws network, and what is
    made from it: TLS 1.3 with an external pre-shared key for proxy links,
    and the tags that name a channel in adverts.

    The key file holds 32 random bytes as one line of base64 (44
    characters, an optional newline), e.g. made by
        (umask 077; head -c 32 /dev/urandom | base64 > key)
    It must be a regular file that neither group nor others may access
    (ssh's rule for private keys): a key others can read is no secret.

    Nothing is used as it is: HKDF-SHA256 (RFC 5869) with the salt
    "nws network key" derives one key per use, labelled in its info
    string ("nws 1 tls psk", "nws 1 advert tag"), so that no two uses share
    a key. The key and what is derived from it are never logged and are
    wiped when the object is destroyed.

    * Links: TLS 1.3 only, external PSK (RFC 8446 section 4.2.11) with the
      identity "nws 1", cipher suite TLS_AES_128_GCM_SHA256, psk_dhe_ke
      (a fresh ECDHE share per connection, so a later leak of the key does
      not open recorded links). Each side proves it holds the key with the
      PSK binder and the Finished messages; a peer without it fails the
      handshake and learns nothing. No certificates are involved.
    * Tags: HMAC-SHA256 of "broadcast/<name>" under the tag key, the
      first 16 bytes in hex. A host without the key can neither compute
      nor reverse one; the same channel always has the same tag.

    Uses OpenSSL (libcrypto, libssl). Not thread-safe on one object except
    nws_netkey_tag, which only reads.
*/
#ifndef NWS_NETKEY_H
#define NWS_NETKEY_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "nws_channel.h"

#define NWS_NETKEY_BYTES 32         /* the key */
#define NWS_NETKEY_TAG_HEX 32       /* hex digits of a channel tag */
#define NWS_NETKEY_ERROR_MAX 256    /* room for an error message */

typedef struct nws_netkey_t nws_netkey_t;

/*  Reads the key file at path. Returns the key, or NULL with a message in
    error (cap bytes, NWS_NETKEY_ERROR_MAX is enough) that names the file
    and the fault (missing, mode, not base64, wrong length) and never its
    contents.  */
nws_netkey_t *nws_netkey_load (const char *path, char *error, size_t cap);

/*  A program's --key option: loads file, or when it is NULL the file that
    $NWS_KEY names (if set and not empty; the packaged services' config
    names the key once for every program). Sets *key_p to the key, or to
    NULL when neither names one. Returns 0, or -1 after saying why on
    stderr, after program's name (a usage error: exit status 2).  */
int nws_netkey_option (const char *file, const char *program, nws_netkey_t **key_p);

/*  Wipes and frees the key. Safe on NULL and twice.  */
void nws_netkey_destroy (nws_netkey_t **self_p);

/*  Writes the channel's tag (NWS_NETKEY_TAG_HEX lowercase hex digits and
    a NUL) into tag.  */
void nws_netkey_tag (const nws_netkey_t *self, const nws_channel_t *channel,
                     char tag [NWS_NETKEY_TAG_HEX + 1]);

/*  Told of a TLS handshake the server side refused (the peer has no key or
    another one): fd is its socket, why OpenSSL's alert text.  */
typedef void (nws_netkey_refused_fn) (void *arg, int fd, const char *why);

/*  Sets ctx up as the server side of links: TLS 1.3 only, our PSK, and
    refused (may be NULL) told of each failed handshake. The key must
    outlive ctx. Returns 0 or -1 (OpenSSL refused a setting).  */
int nws_netkey_tls_server (nws_netkey_t *self, SSL_CTX *ctx,
                           nws_netkey_refused_fn *refused, void *arg);

/*  Makes a client context for links: TLS 1.3 only, offering our PSK. The
    key must outlive it; free it with SSL_CTX_free. Returns NULL if
    OpenSSL fails.  */
SSL_CTX *nws_netkey_tls_client (nws_netkey_t *self);

#endif
