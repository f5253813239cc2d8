/*  Unit tests of nws_addr: which addresses are this host's loopback.  */
#include "nws_addr.h"
#include "nws_unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void
text_forms (void)
{
    CHECK_INT (nws_addr_text_is_loopback ("127.0.0.1"), 1);
    CHECK_INT (nws_addr_text_is_loopback ("127.255.3.4"), 1);
    CHECK_INT (nws_addr_text_is_loopback ("::1"), 1);
    CHECK_INT (nws_addr_text_is_loopback ("::ffff:127.0.0.1"), 1);
    CHECK_INT (nws_addr_text_is_loopback ("::1%lo"), 1);
    CHECK_INT (nws_addr_text_is_loopback ("128.0.0.1"), 0);
    CHECK_INT (nws_addr_text_is_loopback ("10.0.0.1"), 0);
    CHECK_INT (nws_addr_text_is_loopback ("::ffff:10.0.0.1"), 0);
    CHECK_INT (nws_addr_text_is_loopback ("fe80::1%2"), 0);
    CHECK_INT (nws_addr_text_is_loopback ("::"), 0);
    //  Names and bracketed or malformed forms are not addresses.
    CHECK_INT (nws_addr_text_is_loopback ("localhost"), 0);
    CHECK_INT (nws_addr_text_is_loopback ("[::1]"), 0);
    CHECK_INT (nws_addr_text_is_loopback ("127.0.0.1.5"), 0);
    CHECK_INT (nws_addr_text_is_loopback (""), 0);
    CHECK_INT (nws_addr_text_is_loopback (NULL), 0);
    CHECK_INT (nws_addr_text_is_loopback ("1234:1234:1234:1234:1234:1234:1234:1234:1"), 0);
}

static void
sockaddrs (void)
{
    struct sockaddr_in v4 = { .sin_family = AF_INET };
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
    inet_pton (AF_INET, "127.0.0.2", &v4.sin_addr);
    CHECK_INT (nws_addr_is_loopback ((struct sockaddr *) &v4), 1);
    inet_pton (AF_INET, "192.168.1.1", &v4.sin_addr);
    CHECK_INT (nws_addr_is_loopback ((struct sockaddr *) &v4), 0);
    inet_pton (AF_INET6, "::1", &v6.sin6_addr);
    CHECK_INT (nws_addr_is_loopback ((struct sockaddr *) &v6), 1);
    inet_pton (AF_INET6, "::ffff:127.1.2.3", &v6.sin6_addr);
    CHECK_INT (nws_addr_is_loopback ((struct sockaddr *) &v6), 1);
    inet_pton (AF_INET6, "2001:db8::1", &v6.sin6_addr);
    CHECK_INT (nws_addr_is_loopback ((struct sockaddr *) &v6), 0);
    struct sockaddr other;
    memset (&other, 0, sizeof other);
    other.sa_family = AF_UNIX;
    CHECK_INT (nws_addr_is_loopback (&other), 0);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (text_forms),
        NWS_UNIT_CASE (sockaddrs),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
