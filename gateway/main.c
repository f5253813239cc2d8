/*  nws-gateway - the WebSocket server process. Thin: options, signals,
    nws_gateway.  */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "nws_gateway.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_netkey.h"
#include "nws_opts.h"
#include "nws_process.h"
#include "nws_runtime.h"

#define S_MALLOC_KEEP (32 << 20)    /* free memory kept, and the mmap threshold */

static volatile sig_atomic_t s_stop = 0;

//  The --allow-origin rules, or NULL when none were given or one is bad
//  (said on stderr, naming the rule).
static nws_origin_rules_t *
s_origin_rules (const nws_opt_list_t *list)
{
    if (list->count == 0)
        return NULL;
    nws_origin_rules_t *rules = nws_origin_rules_new ();
    char err [200];
    if (!rules)
        fprintf (stderr, "nws-gateway: out of memory\n");
    for (int i = 0; rules && i < list->count; i++)
        if (nws_origin_rules_add (rules, list->items [i], err, sizeof err)) {
            fprintf (stderr, "nws-gateway: --allow-origin '%s': %s\n", list->items [i], err);
            nws_origin_rules_destroy (&rules);
        }
    return rules;
}

int
main (int argc, char **argv)
{
    char default_dir [200];
    nws_runtime_default_dir (default_dir, sizeof default_dir);
    nws_gateway_config_t config = {
        .bind = "::",
        .port = NWS_DEFAULT_PORT,
        .runtime_dir = default_dir,
        .max_message = NWS_DEFAULT_MAX_MESSAGE,
        .queue_msgs = NWS_DEFAULT_QUEUE_MSGS,
        .queue_bytes = NWS_DEFAULT_QUEUE_BYTES,
        .max_per_address = NWS_DEFAULT_MAX_PER_ADDRESS,
        .max_channels = NWS_DEFAULT_MAX_CHANNELS,
        .ping_secs = NWS_DEFAULT_PING_SECS,
        .idle_secs = NWS_DEFAULT_IDLE_SECS,
        .sync_ms = 500,
        .replay_ms = NWS_DEFAULT_REPLAY_MS,
        .replay_bytes = NWS_DEFAULT_REPLAY_BYTES,
    };
    int verbose = 0;
    const char *key_file = NULL;
    nws_opt_list_t allow_origin = { 0 };
    nws_opt_t opts [] = {
        { "port", NWS_OPT_UINT, &config.port, 0, 65535, "N",
          "TCP port (default 9009; 0 = any free port, printed when ready)" },
        { "bind", NWS_OPT_STRING, &config.bind, 0, 0, "ADDR",
          "listen address (default :: = every address, IPv4 and IPv6)" },
        { "runtime-dir", NWS_OPT_STRING, &config.runtime_dir, 0, 0, "DIR",
          "the hub's runtime directory (default as nws-hub)" },
        { "max-message", NWS_OPT_SIZE, &config.max_message, 1, 256ULL << 20, "BYTES",
          "largest message; a larger one closes its sender with 1009 (default 1M)" },
        { "send-queue", NWS_OPT_UINT, &config.queue_msgs, 1, 1000000, "N",
          "messages queued per client before it is closed with 4001 (default 4096)" },
        { "send-queue-bytes", NWS_OPT_SIZE, &config.queue_bytes, 1024, 4ULL << 30, "BYTES",
          "bytes queued per client before it is closed with 4001 (default 64M)" },
        { "max-clients", NWS_OPT_UINT, &config.max_clients, 1, 1000000, "N",
          "WebSocket clients per process; more get 503 (default: the open-files "
          "limit, raised to its hard limit, less 128)" },
        { "max-clients-per-address", NWS_OPT_UINT, &config.max_per_address, 1, 1000000, "N",
          "WebSocket clients from one address; more get 429 (default 1000)" },
        { "max-channels", NWS_OPT_UINT, &config.max_channels, 1, 1000000, "N",
          "channels in use per process; a new one beyond gets 503 (default 10000)" },
        { "ping-secs", NWS_OPT_UINT, &config.ping_secs, 1, 3600, "S",
          "ping a client that has been silent this long (default 30)" },
        { "idle-secs", NWS_OPT_UINT, &config.idle_secs, 2, 7200, "S",
          "drop a client silent this long, pongs included (default 75)" },
        { "sync-ms", NWS_OPT_UINT, &config.sync_ms, 0, 10000, "MS",
          "wait this long, at most, for the hub to confirm a new channel (default 500)" },
        { "replay-ms", NWS_OPT_UINT, &config.replay_ms, 0, 600000, "MS",
          "keep a broadcast channel's messages this long for peer proxies that link "
          "late or come back (default 5000)" },
        { "replay-bytes", NWS_OPT_SIZE, &config.replay_bytes, 0, 4ULL << 30, "BYTES",
          "... at most this much per channel (default 16M)" },
        { "key", NWS_OPT_STRING, &key_file, 0, 0, "FILE",
          "network key (32 bytes in base64, mode 0600): broadcast channels become "
          "private, linked over TLS with key holders only (default $NWS_KEY)" },
        { "lan-clients", NWS_OPT_FLAG, &config.lan_clients, 0, 0, NULL,
          "with --key, still serve /broadcast to clients on other hosts" },
        { "allow-origin", NWS_OPT_LIST, &allow_origin, 0, 0, "[CHANNELS=]ORIGINS",
          "web pages join CHANNELS (a glob over scope/name; default all) only from "
          "ORIGINS (comma-separated, e.g. https://*.example.com,null); repeatable; "
          "default: pages of every origin" },
        { "verbose", NWS_OPT_FLAG, &verbose, 0, 0, NULL, "log debug records" },
        { NULL }
    };
    int rc = nws_process_options (opts, argc, argv, "nws-gateway",
                                  "Serves ws://HOST:PORT/local/<name> and /broadcast/<name> over the nws hub.");
    if (rc >= 0)
        return rc;
    nws_log_init ("nws-gateway", verbose ? NWS_LOG_DEBUG : NWS_LOG_INFO);
    nws_origin_rules_t *origins = s_origin_rules (&allow_origin);
    if (allow_origin.count && !origins)
        return 2;
    config.origins = origins;
    if (nws_netkey_option (key_file, "nws-gateway", &config.key)) {
        nws_origin_rules_destroy (&origins);
        return 2;
    }

    nws_process_stop_on_signals (&s_stop);
    //  Every client is a descriptor: the limit on them is the real cap.
    unsigned long files = nws_process_raise_files ();
    unsigned long room = files > 2 * NWS_FILES_RESERVED ? files - NWS_FILES_RESERVED
                                                        : NWS_FILES_RESERVED;
    if (config.max_clients == 0)
        config.max_clients = room < 1000000 ? room : 1000000;
    else
    if (config.max_clients > room)
        nws_warn ("--max-clients %lu is more than the open-files limit (%lu) allows: "
                  "clients beyond about %lu will be refused",
                  (unsigned long) config.max_clients, files, room);

    //  Messages are allocated and freed by the thousand under load: glibc
    //  would give freed memory back (and mmap a big message afresh) only to
    //  fault the same pages in again at once; a third of the gateway's time
    //  went to that with 4 KiB messages.
    mallopt (M_TRIM_THRESHOLD, S_MALLOC_KEEP);
    mallopt (M_MMAP_THRESHOLD, S_MALLOC_KEEP);
    nws_gateway_t *gateway = nws_gateway_new (&config);
    if (!gateway) {
        nws_netkey_destroy (&config.key);
        nws_origin_rules_destroy (&origins);
        return 1;
    }
    nws_info ("ready: listening on [%s]:%u, hub in %s, at most %lu clients%s", config.bind,
              nws_gateway_port (gateway), config.runtime_dir, (unsigned long) config.max_clients,
              config.key ? "; broadcast is private (network key)" : "");
    printf ("ready port=%u\n", nws_gateway_port (gateway));
    fflush (stdout);
    //  The same moment for systemd (Type=notify); nothing without it.
    sd_notifyf (0, "READY=1\nSTATUS=listening on [%s]:%u", config.bind,
                nws_gateway_port (gateway));
    nws_gateway_run (gateway, &s_stop);
    sd_notify (0, "STOPPING=1");
    nws_info ("stopping");
    nws_gateway_destroy (&gateway);
    nws_netkey_destroy (&config.key);
    nws_origin_rules_destroy (&origins);
    return 0;
}
