/*  nws-discovery - links broadcast channels across the LAN. Thin:
    options, signals, nws_discovery.  */
#include <signal.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "nws_discovery.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_netkey.h"
#include "nws_opts.h"
#include "nws_process.h"
#include "nws_runtime.h"

static volatile sig_atomic_t s_stop = 0;

int
main (int argc, char **argv)
{
    char default_dir [200];
    nws_runtime_default_dir (default_dir, sizeof default_dir);
    nws_discovery_config_t config = {
        .runtime_dir = default_dir,
        .port = NWS_DEFAULT_PORT,
        .max_message = 64 * 1024 * 1024,
    };
    int verbose = 0;
    const char *key_file = NULL;
    nws_opt_t opts [] = {
        { "runtime-dir", NWS_OPT_STRING, &config.runtime_dir, 0, 0, "DIR",
          "the hub's runtime directory (default as nws-hub)" },
        { "port", NWS_OPT_UINT, &config.port, 1, 65535, "N",
          "the gateway port to advertise (default 9009)" },
        { "peer", NWS_OPT_LIST, &config.peers, 0, 0, "HOST:PORT",
          "also link to this proxy, without DNS-SD (repeatable)" },
        { "no-avahi", NWS_OPT_FLAG, &config.no_avahi, 0, 0, NULL,
          "neither advertise nor browse: static peers only" },
        { "max-message", NWS_OPT_SIZE, &config.max_message, 1, 1ULL << 30, "BYTES",
          "largest message taken from a link (default 64M)" },
        { "key", NWS_OPT_STRING, &key_file, 0, 0, "FILE",
          "network key (32 bytes in base64, mode 0600): advertise broadcast channels "
          "by keyed tags only, and link over TLS with key holders only (default $NWS_KEY)" },
        { "verbose", NWS_OPT_FLAG, &verbose, 0, 0, NULL, "log debug records" },
        { NULL }
    };
    int rc = nws_process_options (opts, argc, argv, "nws-discovery",
                                  "Advertises this host's broadcast channels with DNS-SD and links those of other hosts.");
    if (rc >= 0)
        return rc;
    nws_log_init ("nws-discovery", verbose ? NWS_LOG_DEBUG : NWS_LOG_INFO);
    if (nws_netkey_option (key_file, "nws-discovery", &config.key))
        return 2;

    nws_process_stop_on_signals (&s_stop);

    nws_discovery_t *discovery = nws_discovery_new (&config);
    if (!discovery) {
        nws_netkey_destroy (&config.key);
        return 1;
    }
    nws_info ("ready: advertising port %u, hub in %s%s", (unsigned) config.port,
              config.runtime_dir, config.key ? "; broadcast is private (network key)" : "");
    printf ("ready port=%u\n", (unsigned) config.port);
    fflush (stdout);
    //  The same moment for systemd (Type=notify); nothing without it.
    sd_notifyf (0, "READY=1\nSTATUS=advertising port %u", (unsigned) config.port);
    nws_discovery_run (discovery, &s_stop);
    sd_notify (0, "STOPPING=1");
    nws_info ("stopping");
    nws_discovery_destroy (&discovery);
    nws_netkey_destroy (&config.key);
    return 0;
}
