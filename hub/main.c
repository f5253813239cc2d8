/*  nws-hub - the broker process. Thin: options, signals, nws_hub.  */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "nws_hub.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_opts.h"
#include "nws_process.h"
#include "nws_runtime.h"

static volatile sig_atomic_t s_stop = 0;

//  Tells whoever started us that the endpoints are bound: one line on
//  stdout, which scripts and tests wait for instead of sleeping. It names
//  every endpoint as bound (a tcp port 0 or * resolved): first the ipc
//  ones, "ready in=ipc://... out=ipc://...", then " in=..." for each extra
//  publisher endpoint and " out=..." for each extra subscriber endpoint.
static void
s_ready (nws_hub_t *hub, void *arg)
{
    (void) arg;
    nws_info ("ready: publishers on %s, subscribers on %s",
              nws_hub_endpoint_in (hub), nws_hub_endpoint_out (hub));
    printf ("ready in=%s out=%s", nws_hub_bound_in (hub, 0), nws_hub_bound_out (hub, 0));
    const char *endpoint;
    for (int i = 1; (endpoint = nws_hub_bound_in (hub, i)); i++) {
        nws_info ("also accepting publishers on %s", endpoint);
        printf (" in=%s", endpoint);
    }
    for (int i = 1; (endpoint = nws_hub_bound_out (hub, i)); i++) {
        nws_info ("also accepting subscribers on %s", endpoint);
        printf (" out=%s", endpoint);
    }
    printf ("\n");
    fflush (stdout);
    //  The same moment for systemd (Type=notify); nothing without it.
    sd_notifyf (0, "READY=1\nSTATUS=publishers on %s, subscribers on %s",
                nws_hub_endpoint_in (hub), nws_hub_endpoint_out (hub));
}

int
main (int argc, char **argv)
{
    char default_dir [200];
    nws_runtime_default_dir (default_dir, sizeof default_dir);
    nws_hub_config_t config = {
        .runtime_dir = default_dir,
        .grace_ms = NWS_HUB_GRACE_MS,
        .max_message = 64 * 1024 * 1024,
    };
    int verbose = 0;
    nws_opt_t opts [] = {
        { "runtime-dir", NWS_OPT_STRING, &config.runtime_dir, 0, 0, "DIR",
          "directory of the ipc endpoints (default $NWS_RUNTIME_DIR, /run/nws for root)" },
        { "in", NWS_OPT_LIST, &config.extra_in, 0, 0, "ENDPOINT",
          "also accept publishers here: ipc://PATH or tcp://HOST:PORT, e.g. "
          "tcp://127.0.0.1:5570 (port * = any free one; repeatable)" },
        { "out", NWS_OPT_LIST, &config.extra_out, 0, 0, "ENDPOINT",
          "also accept subscribers here, e.g. tcp://127.0.0.1:5571 (repeatable)" },
        { "allow-remote", NWS_OPT_FLAG, &config.allow_remote, 0, 0, NULL,
          "allow tcp endpoints on non-loopback addresses (no authentication!)" },
        { "grace-ms", NWS_OPT_UINT, &config.grace_ms, 0, 10000, "MS",
          "at start, collect subscriptions this long before accepting publishers" },
        { "max-message", NWS_OPT_SIZE, &config.max_message, 1, 1ULL << 30, "BYTES",
          "drop hub messages with larger payloads (default 64M)" },
        { "verbose", NWS_OPT_FLAG, &verbose, 0, 0, NULL, "log debug records" },
        { NULL }
    };
    int rc = nws_process_options (opts, argc, argv, "nws-hub",
                                  "The nws broker: forwards hub messages from publishers to subscribers.");
    if (rc >= 0)
        return rc;
    //  Before anything is bound, and as a usage error (2).
    char err [320];
    if (nws_hub_config_check (&config, err, sizeof err)) {
        fprintf (stderr, "nws-hub: %s\n", err);
        return 2;
    }
    nws_log_init ("nws-hub", verbose ? NWS_LOG_DEBUG : NWS_LOG_INFO);

    nws_process_stop_on_signals (&s_stop);

    nws_hub_t *hub = nws_hub_new (&config);
    if (!hub)
        return 1;
    rc = nws_hub_run (hub, &s_stop, s_ready, NULL);
    sd_notify (0, "STOPPING=1");
    nws_hub_stats_t stats;
    nws_hub_stats (hub, &stats);
    nws_info ("stopping: %llu forwarded (%llu external), %llu dropped",
              (unsigned long long) stats.forwarded, (unsigned long long) stats.external,
              (unsigned long long) stats.dropped);
    nws_hub_destroy (&hub);
    return rc ? 1 : 0;
}
