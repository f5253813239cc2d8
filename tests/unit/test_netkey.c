/*  Unit tests of nws_netkey: the key file's checks, channel tags (against
    a vector computed independently, with Python's hmac and hashlib), and
    TLS handshakes between the two sides in memory.  */
#include <fcntl.h>
#include <sys/stat.h>

#include "nws_netkey.h"
#include "nws_unit.h"

#define S_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  /* bytes 0..31 */
#define S_OTHER "//////////////////////////////////////////8="

static char s_base [64];            /* this run's directory */
static char s_path [128];           /* the key file of a case */

//  Writes text as the key file, with mode.
static void
s_write_key (const char *text, mode_t mode)
{
    snprintf (s_path, sizeof s_path, "%s/key-%d", s_base, (int) getpid ());
    int fd = open (s_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK (fd >= 0);
    CHECK_INT (write (fd, text, strlen (text)), strlen (text));
    CHECK (fchmod (fd, mode) == 0);
    close (fd);
}

static nws_netkey_t *
s_load (const char *text, mode_t mode, char *error)
{
    s_write_key (text, mode);
    nws_netkey_t *key = nws_netkey_load (s_path, error, NWS_NETKEY_ERROR_MAX);
    unlink (s_path);
    return key;
}

//  A refusal names the fault and never shows the key's text.
static void
s_refused (const char *text, mode_t mode, const char *fault)
{
    char error [NWS_NETKEY_ERROR_MAX] = "";
    nws_netkey_t *key = s_load (text, mode, error);
    CHECK (key == NULL);
    CHECK_HAS (error, fault);
    CHECK (strstr (error, "AAECAwQF") == NULL);
}

static void
load_good (void)
{
    char error [NWS_NETKEY_ERROR_MAX] = "";
    nws_netkey_t *key = s_load (S_KEY "\n", 0600, error);
    CHECK_STR (error, "");
    CHECK (key);
    nws_netkey_destroy (&key);
    CHECK (key == NULL);
    nws_netkey_destroy (&key);
    key = s_load (S_KEY, 0400, error);          //  no newline, read-only
    CHECK (key);
    nws_netkey_destroy (&key);
    key = s_load (S_KEY "\r\n", 0600, error);
    CHECK (key);
    nws_netkey_destroy (&key);
}

static void
load_mode (void)
{
    s_refused (S_KEY "\n", 0640, "mode 0640");
    s_refused (S_KEY "\n", 0604, "mode 0604");
    s_refused (S_KEY "\n", 0610, "chmod 600");
}

static void
load_length (void)
{
    s_refused ("", 0600, "not one line of base64");
    s_refused ("\n", 0600, "not one line of base64");
    //  31 and 33 bytes, and 36 (a longer line)
    s_refused ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", 0600, "holds 31 bytes");
    s_refused ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n", 0600, "holds 33 bytes");
    s_refused (S_KEY "AAAA\n", 0600, "not one line of base64");
    s_refused ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj\n", 0600, "holds 36 bytes");
    s_refused (S_KEY "\n" S_KEY "\n", 0600, "on several lines");
    char big [300];
    memset (big, 'A', sizeof big - 1);
    big [sizeof big - 1] = '\0';
    s_refused (big, 0600, "found at least 128 bytes");
}

static void
load_encoding (void)
{
    s_refused ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH*8=\n", 0600, "not one line of base64");
    s_refused ("AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh=\n", 0600, "not one line of base64");
    s_refused ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=8\n", 0600, "not one line of base64");
}

static void
load_missing (void)
{
    char error [NWS_NETKEY_ERROR_MAX] = "";
    CHECK (nws_netkey_load ("/nonexistent/key", error, sizeof error) == NULL);
    CHECK_HAS (error, "/nonexistent/key: No such file");
    CHECK (nws_netkey_load (s_base, error, sizeof error) == NULL);
    CHECK_HAS (error, "not a regular file");
}

static void
tags (void)
{
    char error [NWS_NETKEY_ERROR_MAX];
    nws_netkey_t *key = s_load (S_KEY "\n", 0600, error);
    nws_netkey_t *other = s_load (S_OTHER "\n", 0600, error);
    CHECK (key && other);
    nws_channel_t chat, chat2;
    CHECK (nws_channel_parse_path ("/broadcast/chat", &chat) == 0);
    CHECK (nws_channel_parse_path ("/broadcast/chat2", &chat2) == 0);
    char tag [NWS_NETKEY_TAG_HEX + 1], again [NWS_NETKEY_TAG_HEX + 1];
    nws_netkey_tag (key, &chat, tag);
    CHECK_STR (tag, "ba002fba7aa4c80b355ecb4f5c6f87a3");
    nws_netkey_tag (key, &chat, again);
    CHECK_STR (again, tag);
    nws_netkey_tag (key, &chat2, again);
    CHECK (strcmp (again, tag) != 0);
    nws_netkey_tag (other, &chat, again);
    CHECK (strcmp (again, tag) != 0);
    nws_netkey_destroy (&key);
    nws_netkey_destroy (&other);
}

//  ---------------------------------------------------------------------
//  TLS in memory: the two sides' records go through a BIO pair.

static int s_refusals;              /* refused handshakes the server told of */

static void
s_on_refused (void *arg, int fd, const char *why)
{
    (void) arg, (void) fd;
    CHECK (why && *why);
    s_refusals++;
}

//  Runs a handshake between client and server contexts, then sends a
//  message from the client. Returns 1 if it arrived.
static int
s_handshake (SSL_CTX *client_ctx, SSL_CTX *server_ctx)
{
    SSL *client = SSL_new (client_ctx), *server = SSL_new (server_ctx);
    BIO *client_bio, *server_bio;
    CHECK (client && server && BIO_new_bio_pair (&client_bio, 0, &server_bio, 0));
    SSL_set_bio (client, client_bio, client_bio);
    SSL_set_bio (server, server_bio, server_bio);
    SSL_set_connect_state (client);
    SSL_set_accept_state (server);
    int ok = 0;
    for (int turn = 0; turn < 20; turn++) {
        int c = SSL_do_handshake (client), s = SSL_do_handshake (server);
        if (c == 1 && s == 1) {
            ok = 1;
            break;
        }
        if ((c <= 0 && SSL_get_error (client, c) != SSL_ERROR_WANT_READ)
        ||  (s <= 0 && SSL_get_error (server, s) != SSL_ERROR_WANT_READ))
            break;
    }
    if (ok) {
        char got [8] = "";
        ok = SSL_write (client, "hello", 5) == 5 && SSL_read (server, got, sizeof got) == 5
          && memcmp (got, "hello", 5) == 0
          && SSL_version (server) == TLS1_3_VERSION && SSL_session_reused (server);
    }
    SSL_free (client);
    SSL_free (server);
    return ok;
}

static SSL_CTX *
s_server (nws_netkey_t *key)
{
    SSL_CTX *ctx = SSL_CTX_new (TLS_server_method ());
    CHECK (ctx && nws_netkey_tls_server (key, ctx, s_on_refused, NULL) == 0);
    return ctx;
}

static void
tls (void)
{
    char error [NWS_NETKEY_ERROR_MAX];
    nws_netkey_t *key = s_load (S_KEY "\n", 0600, error);
    nws_netkey_t *copy = s_load (S_KEY "\n", 0600, error);
    nws_netkey_t *other = s_load (S_OTHER "\n", 0600, error);
    CHECK (key && copy && other);
    SSL_CTX *server = s_server (key);
    SSL_CTX *same = nws_netkey_tls_client (copy);
    SSL_CTX *wrong = nws_netkey_tls_client (other);
    SSL_CTX *plain = SSL_CTX_new (TLS_client_method ());
    CHECK (same && wrong && plain);
    //  The same key on both sides: in, and it says so (a PSK session).
    CHECK (s_handshake (same, server));
    CHECK_INT (s_refusals, 0);
    //  Another key, or none: refused, and the server tells.
    CHECK (!s_handshake (wrong, server));
    CHECK_INT (s_refusals, 1);
    CHECK (!s_handshake (plain, server));
    CHECK_INT (s_refusals, 2);
    //  And a client with the key trusts no server without it.
    SSL_CTX *stranger = s_server (other);
    CHECK (!s_handshake (same, stranger));
    SSL_CTX_free (stranger);
    SSL_CTX_free (server);
    SSL_CTX_free (same);
    SSL_CTX_free (wrong);
    SSL_CTX_free (plain);
    nws_netkey_destroy (&key);
    nws_netkey_destroy (&copy);
    nws_netkey_destroy (&other);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (load_good),
        NWS_UNIT_CASE (load_mode),
        NWS_UNIT_CASE (load_length),
        NWS_UNIT_CASE (load_encoding),
        NWS_UNIT_CASE (load_missing),
        NWS_UNIT_CASE (tags),
        NWS_UNIT_CASE (tls),
        { NULL, NULL }
    };
    return nws_unit_run_in_dir (cases, argc, argv, s_base, sizeof s_base);
}
