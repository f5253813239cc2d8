/*  Unit tests of the hub's checks of the endpoints given for --in and
    --out (nws_hub_endpoint_check, nws_hub_config_check), made before
    anything is bound, and of its drop reasons' names.  */
#include "nws_hub.h"
#include "nws_runtime.h"
#include "nws_unit.h"

#include <errno.h>
#include <sys/un.h>

//  Checks endpoint from an exactly-sized heap copy (so that ASan sees a
//  read past its end) into an exactly-sized error buffer; returns the
//  result and leaves why in err.
static int
s_check (const char *endpoint, int allow_remote, char *err, size_t errlen)
{
    size_t len = strlen (endpoint) + 1;
    char *copy = malloc (len), *why = malloc (errlen);
    CHECK (copy && why);
    memcpy (copy, endpoint, len);
    memset (why, 0, errlen);
    int rc = nws_hub_endpoint_check (copy, allow_remote, why, errlen);
    memcpy (err, why, errlen);
    free (copy);
    free (why);
    return rc;
}

//  The result for endpoint, loopback-only and with --allow-remote.
static void
s_expect (const char *endpoint, int loopback_rc, int remote_rc)
{
    char err [400];
    int rc = s_check (endpoint, 0, err, sizeof err);
    if (rc != loopback_rc) {
        fprintf (stderr, "'%s': %d, expected %d (%s)\n", endpoint, rc, loopback_rc, err);
        CHECK (0);
    }
    rc = s_check (endpoint, 1, err, sizeof err);
    if (rc != remote_rc) {
        fprintf (stderr, "'%s' with allow_remote: %d, expected %d (%s)\n", endpoint, rc,
                 remote_rc, err);
        CHECK (0);
    }
}

static void
ipc_paths (void)
{
    struct sockaddr_un addr;
    char endpoint [NWS_ENDPOINT_MAX];
    s_expect ("ipc:///run/nws/hub-in", 0, 0);
    s_expect ("ipc://relative", 0, 0);
    s_expect ("ipc://", -EINVAL, -EINVAL);
    //  A Unix socket path holds 107 bytes and its NUL.
    snprintf (endpoint, sizeof endpoint, "ipc://%0*d", (int) sizeof addr.sun_path - 1, 0);
    s_expect (endpoint, 0, 0);
    snprintf (endpoint, sizeof endpoint, "ipc://%0*d", (int) sizeof addr.sun_path, 0);
    s_expect (endpoint, -EINVAL, -EINVAL);
    char err [400];
    CHECK_INT (s_check (endpoint, 0, err, sizeof err), -EINVAL);
    CHECK_HAS (err, "1 to 107 bytes");
}

//  Only ipc:// and tcp://, spelt so.
static void
schemes (void)
{
    static const char *refused [] = {
        "", "ipc:/x", "inproc://hub", "pgm://eth0;239.192.1.1:5555",
        "epgm://eth0;239.192.1.1:5555", "udp://127.0.0.1:5570", "ws://127.0.0.1:5570",
        "TCP://127.0.0.1:5570", "IPC:///tmp/x", "tcp:/127.0.0.1:5570", "127.0.0.1:5570",
        " tcp://127.0.0.1:5570"
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++)
        s_expect (refused [i], -EINVAL, -EINVAL);
    char err [400];
    CHECK_INT (s_check ("inproc://hub", 0, err, sizeof err), -EINVAL);
    CHECK_HAS (err, "inproc://hub: only ipc://PATH and tcp://HOST:PORT");
}

//  PORT is a number up to 65535 or *; 0 and * pick a free one.
static void
tcp_ports (void)
{
    static const char *accepted [] = {
        "tcp://127.0.0.1:5570", "tcp://127.0.0.1:0", "tcp://127.0.0.1:*", "tcp://127.0.0.1:1",
        "tcp://127.0.0.1:65535", "tcp://127.0.0.1:00080", "tcp://localhost:*", "tcp://[::1]:0"
    };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted [0]; i++)
        s_expect (accepted [i], 0, 0);
    static const char *refused [] = {
        "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:99999",
        "tcp://127.0.0.1:123456", "tcp://127.0.0.1:-1", "tcp://127.0.0.1:+1",
        "tcp://127.0.0.1:1a", "tcp://127.0.0.1: 1", "tcp://127.0.0.1:1 ", "tcp://127.0.0.1:**",
        "tcp://127.0.0.1:0x10", "tcp://:5570", "tcp://", "tcp://:", "tcp://*"
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++)
        s_expect (refused [i], -EINVAL, -EINVAL);
    char err [400];
    CHECK_INT (s_check ("tcp://127.0.0.1:65536", 0, err, sizeof err), -EINVAL);
    CHECK_HAS (err, "expected tcp://HOST:PORT");
}

//  A tcp endpoint has no authentication: loopback only, unless allowed.
static void
tcp_loopback_only (void)
{
    static const char *loopback [] = {
        "tcp://127.0.0.1:5570", "tcp://127.255.255.254:5570", "tcp://127.0.0.2:5570",
        "tcp://localhost:5570", "tcp://[::1]:5570", "tcp://[::ffff:127.0.0.1]:5570",
        "tcp://[0:0:0:0:0:0:0:1]:5570"
    };
    for (size_t i = 0; i < sizeof loopback / sizeof loopback [0]; i++)
        s_expect (loopback [i], 0, 0);
    //  Any address (*, 0.0.0.0, [::]), a LAN address, an interface or host
    //  name, and names that only look like loopback.
    static const char *remote [] = {
        "tcp://*:5570", "tcp://0.0.0.0:5570", "tcp://[::]:5570", "tcp://10.77.0.10:5570",
        "tcp://192.168.1.5:0", "tcp://128.0.0.1:5570", "tcp://eth0:5570", "tcp://lo:5570",
        "tcp://hosta.local:5570", "tcp://LOCALHOST:5570", "tcp://localhost.:5570",
        "tcp://localhost.evil.example:5570", "tcp://127.0.0.1.evil.example:5570",
        "tcp://127.1:5570", "tcp://[fe80::1]:5570", "tcp://[fe80::1%eth0]:5570",
        "tcp://[2001:db8::1]:5570", "tcp://[::ffff:10.0.0.1]:5570",
        //  Only an IPv6 address goes in brackets.
        "tcp://[127.0.0.1]:5570", "tcp://[localhost]:5570"
    };
    for (size_t i = 0; i < sizeof remote / sizeof remote [0]; i++)
        s_expect (remote [i], -EPERM, 0);
    char err [400];
    CHECK_INT (s_check ("tcp://0.0.0.0:5570", 0, err, sizeof err), -EPERM);
    CHECK_HAS (err, "tcp://0.0.0.0:5570: not a loopback address");
    CHECK_HAS (err, "--allow-remote");
}

//  IPv6 goes in brackets, whole.
static void
tcp_ipv6_forms (void)
{
    static const char *refused [] = {
        "tcp://::1:5570", "tcp://fe80::1:5570", "tcp://[::1]", "tcp://[::1]:",
        "tcp://[]:5570", "tcp://[:5570", "tcp://[::1:5570", "tcp://[::1]5570"
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++)
        s_expect (refused [i], -EINVAL, -EINVAL);
    char err [400];
    CHECK_INT (s_check ("tcp://::1:5570", 1, err, sizeof err), -EINVAL);
    CHECK_HAS (err, "in brackets");
    CHECK_INT (s_check ("tcp://[::1:5570", 0, err, sizeof err), -EINVAL);
    CHECK_HAS (err, "expected tcp://[IPV6]:PORT");
}

//  libzmq's "source;destination" form is for connecting, not for us; a
//  malformed endpoint is refused as such before its address is judged.
static void
tcp_malformed (void)
{
    s_expect ("tcp://127.0.0.1;127.0.0.1:5570", -EINVAL, -EINVAL);
    s_expect ("tcp://10.0.0.1:5570;127.0.0.1:5570", -EINVAL, -EINVAL);
    s_expect ("tcp://10.0.0.1:99999", -EINVAL, -EINVAL);
    s_expect ("tcp://::5570", -EINVAL, -EINVAL);
}

//  An endpoint is shorter than NWS_ENDPOINT_MAX; the message quotes only
//  its start.
static void
over_long (void)
{
    char endpoint [NWS_ENDPOINT_MAX + 2], err [400];
    //  tcp://<host>:1 of exactly NWS_ENDPOINT_MAX - 1 bytes, then one more.
    int host = NWS_ENDPOINT_MAX - 1 - (int) strlen ("tcp://:1");
    snprintf (endpoint, sizeof endpoint, "tcp://%.*s:1", host,
              "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"
              "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh");
    CHECK_INT (strlen (endpoint), NWS_ENDPOINT_MAX - 1);
    s_expect (endpoint, -EPERM, 0);
    snprintf (endpoint, sizeof endpoint, "tcp://%.*s:12", host,
              "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"
              "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh");
    CHECK_INT (strlen (endpoint), NWS_ENDPOINT_MAX);
    s_expect (endpoint, -EINVAL, -EINVAL);
    CHECK_INT (s_check (endpoint, 1, err, sizeof err), -EINVAL);
    CHECK_HAS (err, "...: longer than 127 bytes");
    CHECK (strlen (err) < 100);
    char ipc [300];
    snprintf (ipc, sizeof ipc, "ipc://%0250d", 0);
    CHECK_INT (s_check (ipc, 0, err, sizeof err), -EINVAL);
    CHECK_HAS (err, "longer than 127 bytes");
}

//  err is cut to errlen, NUL-terminated.
static void
error_truncated (void)
{
    char err [8];
    CHECK_INT (s_check ("tcp://0.0.0.0:5570", 0, err, sizeof err), -EPERM);
    CHECK_STR (err, "tcp://0");
    CHECK_INT (s_check ("bogus", 0, err, 1), -EINVAL);
    CHECK_STR (err, "");
}

static nws_hub_config_t
s_config (void)
{
    nws_hub_config_t config = { .runtime_dir = "/tmp/unused" };
    return config;
}

//  Every --in, then every --out; the first error wins and is named.
static void
config_check (void)
{
    char err [320];
    nws_hub_config_t config = s_config ();
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), 0);
    config.extra_in = (nws_opt_list_t) { { "tcp://127.0.0.1:*", "ipc:///tmp/x" }, 2 };
    config.extra_out = (nws_opt_list_t) { { "tcp://[::1]:0" }, 1 };
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), 0);

    config.extra_out = (nws_opt_list_t) { { "tcp://[::1]:0", "tcp://0.0.0.0:5571" }, 2 };
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), -EPERM);
    CHECK_HAS (err, "--out tcp://0.0.0.0:5571: not a loopback address");
    config.allow_remote = 1;
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), 0);

    //  --in is checked first, whatever comes later on the command line.
    config.allow_remote = 0;
    config.extra_in = (nws_opt_list_t) { { "ipc:///tmp/x", "tcp://127.0.0.1:70000" }, 2 };
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), -EINVAL);
    CHECK (strncmp (err, "--in tcp://127.0.0.1:70000: ", 28) == 0);

    //  The first bad one of a list.
    config.extra_in = (nws_opt_list_t) { { "tcp://10.0.0.1:1", "bogus" }, 2 };
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), -EPERM);
    CHECK_HAS (err, "--in tcp://10.0.0.1:1");
    config.allow_remote = 1;
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), -EINVAL);
    CHECK_HAS (err, "--in bogus: only ipc://");

    //  A full list, the last one bad.
    config = s_config ();
    config.extra_out.count = NWS_OPT_LIST_MAX;
    for (int i = 0; i < NWS_OPT_LIST_MAX; i++)
        config.extra_out.items [i] = i + 1 < NWS_OPT_LIST_MAX ? "tcp://127.0.0.1:*" : "tcp://*:*";
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), -EPERM);
    CHECK_HAS (err, "--out tcp://*:*");

    //  The longest message fits the caller's buffer, cut if it must be.
    char endpoint [NWS_ENDPOINT_MAX], small [16];
    snprintf (endpoint, sizeof endpoint, "tcp://%0*d:1", NWS_ENDPOINT_MAX - 9, 0);
    config = s_config ();
    config.extra_in = (nws_opt_list_t) { { endpoint }, 1 };
    CHECK_INT (nws_hub_config_check (&config, err, sizeof err), -EPERM);
    CHECK_HAS (err, "--allow-remote");
    CHECK_INT (nws_hub_config_check (&config, small, sizeof small), -EPERM);
    CHECK_STR (small, "--in tcp://0000");
}

static void
drop_names (void)
{
    static const char *names [NWS_HUB_DROP_REASONS] = {
        "frame_count", "topic", "envelope_version", "envelope", "too_big", "not_utf8", "other"
    };
    for (int i = 0; i < NWS_HUB_DROP_REASONS; i++)
        CHECK_STR (nws_hub_drop_name ((nws_hub_drop_t) i), names [i]);
    CHECK_STR (nws_hub_drop_name (NWS_HUB_DROP_REASONS), "?");
    CHECK_STR (nws_hub_drop_name ((nws_hub_drop_t) -1), "?");
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (ipc_paths),
        NWS_UNIT_CASE (schemes),
        NWS_UNIT_CASE (tcp_ports),
        NWS_UNIT_CASE (tcp_loopback_only),
        NWS_UNIT_CASE (tcp_ipv6_forms),
        NWS_UNIT_CASE (tcp_malformed),
        NWS_UNIT_CASE (over_long),
        NWS_UNIT_CASE (error_truncated),
        NWS_UNIT_CASE (config_check),
        NWS_UNIT_CASE (drop_names),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
